"""LCP on BBH tasks with the embedded model as task and optimizer model.

For each task (and seed): initial, last and best-on-train prompts with train and test accuracy
(95% Wilson intervals on test), task/optimizer/test requests, calls and tokens, and wall time.
Run dirs go to bench/out/lcp/ (re-running resumes them); a JSON and a Markdown table are written.

    python bench/lcp_bbh.py [--tasks navigate ...] [--seeds 0 1] [--iterations 3] [--candidates 10]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

from baseline_accuracy import wilson

from contrastprompt import optimize

PROMPT = "Answer the question. End with 'Answer: <option>'."


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--tasks", nargs="+", default=["navigate", "date_understanding", "sports_understanding"]
    )
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--iterations", type=int, default=3)
    ap.add_argument("--candidates", type=int, default=10)
    ap.add_argument("--budget", type=int, default=None)
    ap.add_argument("--test-limit", type=int, default=None)
    ap.add_argument("--out", default="bench/out/lcp")
    a = ap.parse_args()
    out = Path(a.out)
    rows = []
    for name in a.tasks:
        for seed in a.seeds:
            t0 = time.time()
            r = optimize(
                f"bbh:{name}",
                PROMPT,
                seed=seed,
                iterations=a.iterations,
                candidates=a.candidates,
                budget=a.budget,
                test_limit=a.test_limit,
                run_dir=out / f"{name}-s{seed}",
            )
            n_test = json.loads((r.run_dir / "run.json").read_text())["limits"]["test_size"]
            row = {
                "task": name,
                "seed": seed,
                "wall_s": time.time() - t0,
                "n_test": n_test,
                **r.summary(),
            }
            for k in ("initial", "last", "best"):
                row[f"{k}_test_ci95"] = wilson((row[f"{k}_test_score"] or 0) * n_test, n_test)
            rows.append(row)
            u = r.usage
            print(
                f"{name} s{seed}: test initial {r.initial_test_score:.1%} -> best "
                f"{r.best_test_score:.1%} (last {r.last_test_score:.1%}); train "
                f"{r.initial_train_score:.1%} -> {r.best_train_score:.1%}; task req "
                f"{u['task']['requests']}, optimizer calls {u['optimizer']['calls']} "
                f"({u['optimizer']['tokens']} tok), {row['wall_s'] / 60:.1f} min; "
                f"stop: {r.stop_reason}",
                flush=True,
            )
    out.mkdir(parents=True, exist_ok=True)
    (out / "lcp_bbh.json").write_text(
        json.dumps(
            {"machine": platform.platform(), "args": vars(a), "rows": rows}, indent=2, default=str
        )
    )
    lines = [
        "| task | seed | test initial | test best (on train) | test last | train initial → "
        "best | task req | optimizer calls / tokens | wall min |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        u = r["usage"]
        lines.append(
            f"| {r['task']} | {r['seed']} | {r['initial_test_score']:.1%} | "
            f"{r['best_test_score']:.1%} | {r['last_test_score']:.1%} | "
            f"{r['initial_train_score']:.1%} → {r['best_train_score']:.1%} | "
            f"{u['task']['requests']} | {u['optimizer']['calls']} / {u['optimizer']['tokens']} | "
            f"{r['wall_s'] / 60:.1f} |"
        )
    (out / "lcp_bbh.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
