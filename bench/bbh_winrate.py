"""The win-rate bench on BBH with the embedded models: every method, quick profile, resumable.

    python bench/bbh_winrate.py                 # 5 tasks x 7 methods x seed 0
    python bench/bbh_winrate.py --seeds 0,1     # more seeds: finished cells are read, not re-run

It runs `contrastprompt bench` into bench/results/bbh_winrate_quick (committed, so a later run
continues where this one stopped) and leaves bench.md / bench.json / bench.html there, marked
PARTIAL until every cell has finished. Task model SmolLM2-135M, optimizer Qwen2.5-Coder-1.5B.
"""

from __future__ import annotations

import argparse
import sys
import time

from contrastprompt.cli import main

TASKS = ",".join(
    f"bbh:{t}"
    for t in (
        "navigate",
        "date_understanding",
        "logical_deduction_three_objects",
        "sports_understanding",
        "boolean_expressions",
    )
)
METHODS = "lcp,apo,opro,autohint,ape,gepa,cot,initial"

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", default=TASKS)
    ap.add_argument("--methods", default=METHODS)
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--out", default="bench/results/bbh_winrate_quick")
    ap.add_argument("--tables-only", action="store_true")
    a = ap.parse_args()
    args = [
        "bench",
        "--tasks",
        a.tasks,
        "--methods",
        a.methods,
        "--seeds",
        a.seeds,
        "--profile",
        "quick",
        "--model",
        "local:smollm2-135m",  # the task model of the recorded runs, named: `local` is the 1.5B
        "--run-dir",
        a.out,
    ]
    if a.tables_only:
        args.append("--tables-only")
    t0 = time.time()
    try:
        main(args)
    finally:
        print(f"wall time of this command: {(time.time() - t0) / 60:.1f} min", file=sys.stderr)
