"""Model adaptation on public tasks: a prompt LCP optimized for one local model, carried to another.

    python bench/adapt_pairs.py --probe       # each source prompt as is on every model (gaps)
    python bench/adapt_pairs.py --dry-run     # what the pairs will cost
    python bench/adapt_pairs.py --task cls:trec --seeds 0,1,2

Pairs (source:target, local model names): 1.5B -> 0.5B, 1.5B -> SmolLM2, 0.5B -> 1.5B and
1.5B -> Gemma 3 270M, Qwen2.5-Coder-1.5B writing the prompts throughout. The source prompt is
the best-on-train prompt of LCP for the source model on the task at the public bench's profile
(50 training items, 300 task requests, at most 20 optimizer calls): for the 1.5B the public
bench's own run (bench/results/public), for another source model an LCP run made here first
(resumable, under --out/source). Then `contrastprompt.adapt` per pair and seed: the source
prompt as is on the target, adapted (failures right on the source model and wrong on the
target), and LCP from scratch on the target at the same budget. `--probe` scores every source
prompt on the same 60 seeded test items with every model, with Wilson intervals: a target far
below what its own prompt gets is where adapting may recover something. Run dirs and
`matrix.md` (PARTIAL until every run has finished) go to --out; re-running resumes.

`--budget` and `--max-optimizer-calls` give the target parts (adapted, from scratch) another
budget than the profile's, with the source prompts still the profile's runs (`--source-out`):

    python bench/adapt_pairs.py --pairs qwen2.5-coder-1.5b:qwen2.5-coder-0.5b --seeds 2 \
        --budget 800 --max-optimizer-calls 60 --out bench/results/adapt_pairs_800

`--scratch-budget` gives LCP from scratch its own task budget (default --budget). Adapting at
half the budget of starting over, where the profile's runs found a gap:

    python bench/adapt_pairs.py --pairs qwen2.5-coder-0.5b:qwen2.5-coder-1.5b --seeds 0 \
        --budget 150 --scratch-budget 300 --out bench/results/adapt_pairs_half

Every LCP part (a source model's own run, adapted, from scratch) runs LCP's default profile
(`contrastprompt methods`); `--paper` runs them with its paper profile instead (every prompt on
the whole training set, one reason a failure), the closest to the schedule of the committed
runs, which were made with an earlier LCP:

    python bench/adapt_pairs.py --pairs qwen2.5-coder-0.5b:qwen2.5-coder-1.5b --seeds 0 \
        --budget 150 --scratch-budget 300 --paper --out bench/results/adapt_pairs_half_paper
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from adapt_kept import finished, lcp_settings, redraw

from contrastprompt import evaluate_prompt, load_task, optimize
from contrastprompt.adapt import adapt, plan
from contrastprompt.data.task import take
from contrastprompt.llm.catalogue import catalogue
from contrastprompt.stats import wilson_interval
from contrastprompt.views.adapt import matrix

PAIRS = (
    "qwen2.5-coder-1.5b:qwen2.5-coder-0.5b,qwen2.5-coder-1.5b:smollm2-135m,"
    "qwen2.5-coder-0.5b:qwen2.5-coder-1.5b,qwen2.5-coder-1.5b:gemma3-270m"
)
PUBLIC = Path("bench/results/public")
INITIAL = "Classify the input."  # the public bench's initial prompt
PROFILE = {"n_train": 50, "test_limit": 200, "budget": 300, "max_optimizer_calls": 20}
DEFAULT_OUT = "bench/results/adapt_pairs"


def source_prompt(task: str, model: str, seed: int, out: Path, paper: bool = False) -> str:
    """LCP's best prompt for `model` on `task`: the public bench's run for the 1.5B, else one
    run here with the same profile (resumed if it was interrupted), with the LCP settings the
    target parts get (`paper`: LCP's paper profile)."""
    cell = PUBLIC / task.replace(":", "-") / "lcp" / f"s{seed}" / "best_prompt.txt"
    if model == "qwen2.5-coder-1.5b" and cell.is_file():
        return cell.read_text(encoding="utf-8").strip()
    res = optimize(
        task,
        INITIAL,
        model=f"local:{model}",
        optimizer_model="local:qwen2.5-coder-1.5b",
        seed=seed,
        iterations=50,  # the budget and the call cap end the run, as in the public bench
        run_dir=out / "source" / f"{task.replace(':', '-')}-{model}-s{seed}",
        **PROFILE,
        **lcp_settings(paper),
    )
    return res.best_prompt


def probe(
    task: str, pairs: list[tuple[str, str]], n: int, out: Path, sources: Path, paper: bool
) -> None:
    """Each source model's prompt (seed 0) as is on every model of the pairs."""
    items = take(load_task(task).split(0)[1], n, seed=0)
    models = sorted({m for p in pairs for m in p})
    rows = []
    for source in sorted({s for s, _ in pairs}):
        prompt = source_prompt(task, source, 0, sources, paper)
        for model in models:
            res = evaluate_prompt(prompt, task, model=f"local:{model}", examples=items)
            k = sum(r["correct"] for r in res["records"])
            lo, hi = wilson_interval(k, len(items))
            row = {"source": source, "model": model, "accuracy": k / len(items), "ci": [lo, hi]}
            rows.append({**row, "n": len(items), "prompt": prompt})
            print(json.dumps(row), flush=True)
    lines = ["| prompt optimized for | scored on | accuracy (95% Wilson) |", "|---|---|---|"]
    for r in rows:
        lo, hi = r["ci"]
        lines.append(
            f"| {r['source']} | {r['model']} | {100 * r['accuracy']:.1f}% "
            f"({100 * lo:.0f}–{100 * hi:.0f}) |"
        )
    name = task.replace(":", "-")
    (out / f"probe-{name}.json").write_text(json.dumps(rows, indent=2), encoding="utf-8")
    (out / f"probe-{name}.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


def pair_label(run_dir: str) -> str:
    """'cls-trec-a-to-b-s0' -> 'cls-trec: a → b s0' (a run dir's name as a matrix row)."""
    stem, _, seed = run_dir.rpartition("-s")
    left, _, target = stem.partition("-to-")
    for source in sorted(catalogue(), key=len, reverse=True):  # the longest model name first
        if left.endswith("-" + source):
            task = left[: -len(source) - 1]
            return f"{task.replace('-', ':', 1)}: {source} → {target} s{seed}"
    return run_dir


def run_pairs(
    task: str, pairs: list[tuple[str, str]], seeds: list[int], out: Path, a: argparse.Namespace
) -> None:
    """Adapt each pair and seed; the target parts get `a.budget` task requests and
    `a.max_optimizer_calls` optimizer calls, the source prompt is the profile's run."""
    entries, total = [], len(pairs) * len(seeds)
    limits = target_limits(a)
    for seed in seeds:
        for source, target in pairs:
            t0 = time.time()
            res = adapt(
                task,
                source_prompt(task, source, seed, Path(a.source_out), a.paper),
                source_model=f"local:{source}",
                model=f"local:{target}",
                optimizer_model="local:qwen2.5-coder-1.5b",
                initial_prompt=INITIAL,
                seed=seed,
                iterations=50,
                run_dir=out / f"{task.replace(':', '-')}-{source}-to-{target}-s{seed}",
                **limits,
            )
            entries.append((f"{source} → {target} s{seed}", res))
            print(f"{source} -> {target} s{seed}: {time.time() - t0:.0f} s", flush=True)
            head = "**PARTIAL**: not every run has finished.\n\n" if len(entries) < total else ""
            named = ",".join(f"{s}:{t}" for s, t in pairs)
            only = "" if named == PAIRS else f" --pairs {named}"
            listed = ",".join(map(str, seeds)) + _limit_options(a)
            cmd = f"`python bench/adapt_pairs.py --task {task}{only} --seeds {listed}`"
            table = matrix(finished(out, pair_label), spread=True)
            runs = f"Every finished run under {out}; the last command: {cmd}"
            (out / "matrix.md").write_text(f"{head}{runs}\n\n{table}\n", encoding="utf-8")


def target_limits(a: argparse.Namespace) -> dict:
    """The profile with the command's budget and call cap: what the target parts run with."""
    return PROFILE | {
        "budget": a.budget,
        "scratch_budget": a.scratch_budget,
        "max_optimizer_calls": a.max_optimizer_calls,
        "lcp_settings": lcp_settings(a.paper),
    }


def _limit_options(a: argparse.Namespace) -> str:
    """The command's limit options that differ from the profile's."""
    out = "" if a.out == DEFAULT_OUT else f" --out {a.out}"
    if a.budget != PROFILE["budget"]:
        out += f" --budget {a.budget}"
    if a.scratch_budget is not None:
        out += f" --scratch-budget {a.scratch_budget}"
    if a.max_optimizer_calls != PROFILE["max_optimizer_calls"]:
        out += f" --max-optimizer-calls {a.max_optimizer_calls}"
    if a.paper:
        out += " --paper"
    return out


def dry_run(
    task: str, pairs: list[tuple[str, str]], seeds: list[int], a: argparse.Namespace
) -> None:
    hours = 0.0
    for source, target in pairs:
        parts = plan(
            task,
            model=f"local:{target}",
            source_model=f"local:{source}",
            optimizer_model="local:qwen2.5-coder-1.5b",
            iterations=50,
            **target_limits(a),
        )
        h = sum(p["time_s"] for p in parts) * len(seeds) / 3600
        hours += h
        print(f"{source} -> {target}: ~{h:.1f} h for {len(seeds)} seeds", flush=True)
    print(f"{len(pairs)} pairs x {len(seeds)} seeds on {task}: ~{hours:.1f} h (source runs apart)")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="cls:trec")
    ap.add_argument("--pairs", default=PAIRS, help="source:target local model names")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--n", type=int, default=60, help="test items for --probe")
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument(
        "--source-out",
        default=DEFAULT_OUT,
        help="where the source models' own LCP runs are (made there when missing)",
    )
    ap.add_argument("--budget", type=int, default=PROFILE["budget"], help="target parts")
    ap.add_argument(
        "--scratch-budget", type=int, default=None, help="LCP from scratch (default --budget)"
    )
    ap.add_argument(
        "--max-optimizer-calls",
        type=int,
        default=PROFILE["max_optimizer_calls"],
        help="target parts",
    )
    ap.add_argument(
        "--paper",
        action="store_true",
        help="every LCP part runs LCP's paper profile (profile=paper) instead of its default",
    )
    ap.add_argument("--probe", action="store_true")
    ap.add_argument("--dry-run", action="store_true")
    ap.add_argument("--tables", action="store_true", help="redraw matrix.md only, run nothing")
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    pairs = [tuple(x.split(":")) for x in a.pairs.split(",") if x]
    seeds = [int(s) for s in a.seeds.split(",") if s]
    if a.tables:
        redraw(out, pair_label)
    elif a.probe:
        probe(a.task, pairs, a.n, out, Path(a.source_out), a.paper)
    elif a.dry_run:
        dry_run(a.task, pairs, seeds, a)
    else:
        run_pairs(a.task, pairs, seeds, out, a)
