"""LCP against DSPy's own optimizers, inside DSPy: one program, one budget of program calls.

    python bench/dspy_compare.py --dry-run
    python bench/dspy_compare.py --out bench/results/dspy          # runs or resumes
    python bench/dspy_compare.py --model local:smollm2-135m --n-train 8 --n-test 8 --budget 48

The program is examples/dspy_trec.py's two-step TREC classifier (what kind of answer, then the
label). Every method starts from the program's default instructions and sees the same training
items; each gets `--budget` program calls for optimizing (LCP: its budget; dspy.GEPA:
max_metric_calls, with the training items as its validation set; MIPROv2, instructions only:
trials sized to the budget) and the same model writes the prompts. Program calls are counted as
they happen, so the table shows what each method really used. The tuned program is scored on
held-out test items no method sees. Each (method, seed) writes cell.json when it ends, finished or
not (an exception is recorded as such); a re-run skips cells that have one. Tables: bench.md and
bench.json in --out. MIPROv2 needs optuna: `pip install 'dspy[optuna]==3.4.1'`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import dspy

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))
from dspy_trec import Route, label_match, trec  # noqa: E402

from contrastprompt.dspy import LCP, local_lm  # noqa: E402

METHODS = ("lcp", "gepa", "mipro")
SEEDS = (0, 1, 2)  # the seeds the docs report
_lock = threading.Lock()
CALLS = {"n": 0}


class Counted(Route):
    """The program, counting every call of every copy (optimizers run copies, in threads)."""

    def forward(self, question: str) -> dspy.Prediction:
        with _lock:
            CALLS["n"] += 1
        return super().forward(question)


def gepa_metric(gold: Any, pred: Any, trace: Any = None, pred_name: Any = None, pt: Any = None):
    return float(label_match(gold, pred))


def accuracy(program: dspy.Module, items: list[dspy.Example], threads: int) -> float:
    """Share of `items` the program gets right; an example it raises on counts as wrong."""

    def one(ex: dspy.Example) -> float:
        try:
            return float(label_match(ex, program(**ex.inputs())))
        except Exception:
            return 0.0

    with ThreadPoolExecutor(threads) as pool:
        return sum(pool.map(one, items)) / len(items)


def optimize(method: str, a: argparse.Namespace, lm: Any, train: list, d: Path, seed: int):
    """The tuned program of one method under the shared budget."""
    if method == "lcp":
        opt = LCP(
            label_match,
            optimizer_lm=lm,
            budget=a.budget,
            run_dir=d / "runs",
            seed=seed,
            iterations=a.iterations,
            max_optimizer_calls=a.max_optimizer_calls,
        )
        return opt.compile(Counted(), trainset=train)
    if method == "gepa":
        opt = dspy.GEPA(
            metric=gepa_metric,
            max_metric_calls=a.budget,
            reflection_lm=lm,
            seed=seed,
            log_dir=str(d / "gepa"),
            num_threads=a.threads,
        )
        return opt.compile(Counted(), trainset=train, valset=train)
    minibatch = min(10, len(train))  # instructions only: no demos, trials sized to the budget
    # its calls: the default program on the training items, a minibatch a trial, and full
    # evaluations every 5 trials and at the end
    trials = max(1, int((a.budget - 2 * len(train)) / (minibatch + len(train) / 5)))
    opt = dspy.MIPROv2(
        metric=label_match,
        prompt_model=lm,
        task_model=lm,
        auto=None,
        num_candidates=a.candidates,
        max_bootstrapped_demos=0,
        max_labeled_demos=0,
        num_threads=a.threads,
        seed=seed,
        verbose=False,
    )
    return opt.compile(
        Counted(),
        trainset=train,
        valset=train,
        num_trials=trials,
        minibatch_size=minibatch,
        fewshot_aware_proposer=False,
        requires_permission_to_run=False,
    )


def run_cell(method: str, seed: int, a: argparse.Namespace, lm: Any, data: dict) -> dict:
    d = Path(a.out) / method / f"s{seed}"
    kept = d / "cell.json"
    if kept.is_file():
        return json.loads(kept.read_text())
    d.mkdir(parents=True, exist_ok=True)
    CALLS["n"], history0, t0 = 0, len(lm.history), time.time()
    row: dict[str, Any] = {"method": method, "seed": seed, "budget": a.budget}
    try:
        tuned = optimize(method, a, lm, data["train"], d, seed)
        row["finished"], row["error"] = True, ""
        row["program_calls"] = CALLS["n"]
        row["test"] = accuracy(tuned, data["test"], a.threads)
        row["instructions"] = {n: p.signature.instructions for n, p in tuned.named_predictors()}
    except Exception as exc:
        row["finished"], row["program_calls"], row["test"] = False, CALLS["n"], None
        row["error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
        (d / "error.txt").write_text(traceback.format_exc())
    row["lm_calls"] = len(lm.history) - history0
    row["wall_s"] = round(time.time() - t0)
    kept.write_text(json.dumps(row, indent=1) + "\n")
    return row


def table(rows: list[dict], initial: float, a: argparse.Namespace) -> str:
    lines = [
        f"# LCP against DSPy's optimizers ({a.model}, TREC two-step program, {a.n_train} train, "
        f"{a.n_test} test, budget {a.budget} program calls)",
        "",
        f"The program with its default instructions: {initial:.1%} on the test items.",
        "",
        "| method | runs finished | test accuracy (mean, per seed) | program calls (mean) | "
        "LM calls (mean) | minutes (mean) |",
        "|---|---|---|---|---|---|",
    ]
    for m in a.methods.split(","):
        rs = [r for r in rows if r["method"] == m]
        done = [r for r in rs if r["finished"]]
        tests = [r["test"] for r in done]
        per = ", ".join(f"{t:.1%}" for t in tests)
        mean = f"{statistics.mean(tests):.1%} ({per})" if tests else "-"
        calls = statistics.mean(r["program_calls"] for r in rs) if rs else 0
        lmc = statistics.mean(r["lm_calls"] for r in rs) if rs else 0
        mins = statistics.mean(r["wall_s"] for r in rs) / 60 if rs else 0
        lines.append(
            f"| {m} | {len(done)}/{len(rs)} | {mean} | {calls:.0f} | {lmc:.0f} | {mins:.1f} |"
        )
    errors = [f"- {r['method']} seed {r['seed']}: {r['error']}" for r in rows if r["error"]]
    return "\n".join(lines + ([""] + ["Runs that did not finish:"] + errors if errors else []))


def dry_run(a: argparse.Namespace, runs: int) -> None:
    """Runs, program calls and hours. A program call costs `--call-seconds` (DSPy's chat format
    makes each request several times longer than contrastprompt's own prompts, so the
    catalogue's per-request rates do not apply); an optimizer call costs `--optimizer-seconds`
    (its requests quote the program's failures); the untuned program is scored once on the test
    items."""
    opt_s = a.optimizer_seconds
    calls = a.budget + a.n_test
    hours = runs * (calls * a.call_seconds + a.max_optimizer_calls * opt_s) / 3600
    hours += a.n_test * a.call_seconds / 3600
    print(
        f"{runs} runs, {a.budget} program calls each for optimizing and {a.n_test} for the test "
        f"at {a.call_seconds:g} s a call, at most {a.max_optimizer_calls} optimizer calls at "
        f"{opt_s:g} s: ~{hours:.1f} h on {a.model}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="bench/results/dspy")
    ap.add_argument("--model", default="local:qwen2.5-coder-1.5b")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--seeds", default=",".join(map(str, SEEDS)))
    ap.add_argument("--n-train", type=int, default=20)
    ap.add_argument("--n-test", type=int, default=60)
    ap.add_argument("--budget", type=int, default=120)
    ap.add_argument("--iterations", type=int, default=1)
    ap.add_argument("--max-optimizer-calls", type=int, default=12)
    ap.add_argument("--candidates", type=int, default=4)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument(
        "--call-seconds",
        type=float,
        default=7.9,
        help="seconds of bench time a program call takes at 8 threads, for --dry-run (measured "
        "for the 1.5B: 24 calls of the untuned program in 190 s on a 2-core AVX2 VM)",
    )
    ap.add_argument(
        "--optimizer-seconds",
        type=float,
        default=10.6,
        help="seconds an optimizer call takes, for --dry-run (the catalogue's rate for the 1.5B; "
        "with 7.9 s a program call it matches a measured LCP cell: 180 program calls and 12 "
        "optimizer calls in 1,579 s)",
    )
    ap.add_argument("--dry-run", action="store_true")
    a = ap.parse_args()
    seeds = [int(s) for s in a.seeds.split(",")]
    cells = [(m, s) for s in seeds for m in a.methods.split(",")]
    if a.dry_run:
        dry_run(a, len(cells))
        return
    lm = local_lm(a.model, max_tokens=a.max_tokens, cache=False)
    dspy.configure(lm=lm)
    items = trec(a.n_train + a.n_test, seed=0)
    data = {"train": items[: a.n_train], "test": items[a.n_train :]}
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    base = out / "initial.json"
    if not base.is_file():
        base.write_text(json.dumps({"test": accuracy(Route(), data["test"], a.threads)}))
    initial = json.loads(base.read_text())["test"]
    for i, (m, s) in enumerate(cells, 1):
        r = run_cell(m, s, a, lm, data)
        print(
            f"[{i}/{len(cells)}] {m} s{s}: test {r['test']}, {r['program_calls']} calls "
            f"{'' if r['finished'] else '(did not finish: ' + r['error'][:80] + ')'}",
            flush=True,
        )
        write_table(out, initial, a, seeds)


def recorded(out: Path, methods: list[str]) -> list[dict]:
    """Every finished cell under `out` for these methods, by method then seed: the table covers
    all seeds run so far, whichever `--seeds` this invocation was given."""
    rows = [json.loads(p.read_text()) for m in methods for p in (out / m).glob("s*/cell.json")]
    order = {m: i for i, m in enumerate(methods)}
    return sorted(rows, key=lambda r: (order[r["method"]], r["seed"]))


def write_table(out: Path, initial: float, a: argparse.Namespace, seeds: list[int]) -> None:
    """bench.md and bench.json from the recorded cells, marked partial until every method has
    every seed run so far and every default seed (the ones the docs report)."""
    methods = a.methods.split(",")
    rows = recorded(out, methods)
    seen = set(seeds) | {r["seed"] for r in rows} | set(SEEDS)
    expected = len(methods) * len(seen)
    partial = "" if len(rows) >= expected else f"\n\n(partial: {len(rows)} of {expected} runs)"
    (out / "bench.md").write_text(table(rows, initial, a) + partial + "\n")
    (out / "bench.json").write_text(json.dumps({"initial": initial, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
