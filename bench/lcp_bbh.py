"""LCP on BBH tasks with local models: SmolLM2-135M answers, Qwen2.5-Coder-1.5B optimizes.

For each task (and seed): initial, last, best-on-train and paired-rule prompts with train and
test accuracy (95% Wilson intervals on test), task/optimizer requests, calls and tokens, wall time,
and whether the written prompts are instructions. Run dirs go to `--out` (re-running resumes
them: finished evaluations and optimizer answers are reused); the JSON and Markdown tables are
rewritten after every run, marked partial until every (task, seed) is done.

    python bench/lcp_bbh.py            # resumes bench/results/lcp_bbh_1.5b (committed)
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from judge import is_instruction

from contrastprompt import optimize
from contrastprompt.bench import PROMPTS
from contrastprompt.data import load_task
from contrastprompt.run.kept import test_items
from contrastprompt.run.selection import sign_test_p
from contrastprompt.stats import wilson_interval
from contrastprompt.store import prompt_hash


def test_pairs(run_dir: Path, a: str, b: str) -> tuple[int, int, float]:
    """Test items prompt `a` gets right and `b` wrong, the reverse, and the two-sided exact sign
    test p-value: is the difference on the same test items more than noise?"""
    items = test_items(run_dir, [a, b])
    sa, sb = items.get(prompt_hash(a), {}), items.get(prompt_hash(b), {})
    wins = sum(1 for k in sa if k in sb and sa[k] > sb[k])
    losses = sum(1 for k in sa if k in sb and sa[k] < sb[k])
    return wins, losses, min(1.0, 2 * sign_test_p(max(wins, losses), min(wins, losses)))


def row_for(name: str, seed: int, run_dir: Path, wall: float | None = None) -> dict:
    """One table row from a finished run dir (its run.json and store), so tables can be rebuilt
    at any time without running anything."""
    data = json.loads((run_dir / "run.json").read_text())
    res = data["results"]
    n_test = data["limits"]["test_size"]
    written = [c for c in data["candidates"] if c["origin"] in ("candidate", "contrast")]
    row = {
        "task": name,
        "seed": seed,
        "wall_s": data["limits"]["wall_time_s"] if wall is None else wall,
        "n_test": n_test,
        "written": len(written),
        "instructions": sum(is_instruction(c["text"]) for c in written),
        **res,
        "run_dir": run_dir.name,  # relative to lcp_bbh.json's folder, where the run dirs are
        "usage": data["usage"],
    }
    for k in ("initial", "last", "best"):
        row[f"{k}_test_ci95"] = wilson_interval(
            round((row[f"{k}_test_score"] or 0) * n_test), n_test
        )
    paired = res["selections"]["paired"]
    row["paired_test_score"] = paired["test"]
    row["paired_train_score"] = paired["train"]
    row["paired_is_initial"] = paired["prompt"] == res["initial_prompt"]
    row["best_vs_initial_test"] = test_pairs(run_dir, res["best_prompt"], res["initial_prompt"])
    return row


def tables(rows: list[dict], partial: bool) -> str:
    lines = [
        "PARTIAL: not every (task, seed) has finished.\n" if partial else "",
        "| task | seed | test initial | test best-on-train | test paired | test last | "
        "best vs initial on test (+/−, p) | train initial → best | task req | "
        "optimizer calls / tokens | instructions | wall min |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        u = r["usage"]
        lo, hi = r["best_test_ci95"]
        li, hi_i = r["initial_test_ci95"]
        lines.append(
            f"| {r['task']} | {r['seed']} | {r['initial_test_score']:.1%} ({li:.0%}–{hi_i:.0%}) | "
            f"{r['best_test_score']:.1%} ({lo:.0%}–{hi:.0%}) | {r['paired_test_score']:.1%}"
            f"{' (= initial)' if r['paired_is_initial'] else ''} | {r['last_test_score']:.1%} | "
            f"+{r['best_vs_initial_test'][0]}/−{r['best_vs_initial_test'][1]} "
            f"(p {r['best_vs_initial_test'][2]:.2g}) | "
            f"{r['initial_train_score']:.1%} → {r['best_train_score']:.1%} | "
            f"{u['task']['requests']} | {u['optimizer']['calls']} / {u['optimizer']['tokens']:,} | "
            f"{r['instructions']}/{r['written']} | {r['wall_s'] / 60:.1f} |"
        )
    return "\n".join(x for x in lines if x) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument(
        "--tasks",
        nargs="+",
        default=[
            "navigate",
            "date_understanding",
            "sports_understanding",
            "boolean_expressions",
            "logical_deduction_three_objects",
        ],
    )
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--model", default="local:smollm2-135m")
    ap.add_argument("--optimizer-model", default="local:qwen2.5-coder-1.5b")
    ap.add_argument("--iterations", type=int, default=2)
    ap.add_argument("--candidates", type=int, default=10)
    ap.add_argument("--max-failures", type=int, default=10)
    ap.add_argument("--budget", type=int, default=None)
    ap.add_argument("--test-limit", type=int, default=150)
    ap.add_argument(
        "--out",
        default=str(Path(__file__).with_name("results") / "lcp_bbh_1.5b"),
        help="run dirs and tables (default: the committed snapshot, so a re-run resumes it)",
    )
    ap.add_argument(
        "--tables-only",
        action="store_true",
        help="rebuild the tables from the finished run dirs; run nothing",
    )
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    todo = [(n, s) for n in a.tasks for s in a.seeds]
    if a.tables_only:
        for name, seed in todo:
            if (out / f"{name}-s{seed}" / "run.json").is_file():
                rows.append(row_for(name, seed, out / f"{name}-s{seed}"))
        write_tables(out, a, rows, partial=len(rows) < len(todo))
        print(tables(rows, len(rows) < len(todo)))
        return
    for name, seed in todo:
        if (out / f"{name}-s{seed}" / "run.json").is_file():
            # finished: read it, do not replay it (a replay through a newer parser could take
            # another path and change a finished result)
            rows.append(row_for(name, seed, out / f"{name}-s{seed}"))
            print(f"{name} s{seed}: finished earlier, read from its run dir", flush=True)
            continue
        t0 = time.time()
        task = load_task(f"bbh:{name}")
        r = optimize(
            task,
            PROMPTS.get(task.answer_type, "Answer the question."),
            model=a.model,
            optimizer_model=a.optimizer_model,
            seed=seed,
            iterations=a.iterations,
            candidates=a.candidates,
            max_failures=a.max_failures,
            budget=a.budget,
            test_limit=a.test_limit,
            run_dir=out / f"{name}-s{seed}",
        )
        rows.append(row_for(name, seed, r.run_dir, time.time() - t0))
        u = r.usage
        print(
            f"{name} s{seed}: test initial {r.initial_test_score:.1%} -> best "
            f"{r.best_test_score:.1%}, paired {r.selections['paired']['test']:.1%} (last "
            f"{r.last_test_score:.1%}); train {r.initial_train_score:.1%} -> "
            f"{r.best_train_score:.1%}; task req {u['task']['requests']}, optimizer calls "
            f"{u['optimizer']['calls']} ({u['optimizer']['tokens']} tok), "
            f"{rows[-1]['wall_s'] / 60:.1f} min; stop: {r.stop_reason}",
            flush=True,
        )
        write_tables(out, a, rows, partial=len(rows) < len(todo))
    write_tables(out, a, rows, partial=len(rows) < len(todo))
    print(tables(rows, len(rows) < len(todo)))


def write_tables(out: Path, a: argparse.Namespace, rows: list[dict], partial: bool) -> None:
    # --out is the folder the tables are written in: "." wherever it was given from
    meta = {"machine": platform.platform(), "args": vars(a) | {"out": "."}, "partial": partial}
    (out / "lcp_bbh.json").write_text(json.dumps({**meta, "rows": rows}, indent=2, default=str))
    (out / "lcp_bbh.md").write_text(tables(rows, partial))


if __name__ == "__main__":
    main()
