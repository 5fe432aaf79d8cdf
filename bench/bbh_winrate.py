"""The BBH win-rate bench with the embedded models, as bench/specs/bbh-quick.toml declares it
(five BBH tasks, every method, quick profile, seed 0), or the tickets bench
(bench/specs/tickets-quick.toml) when --tasks names examples/tickets.jsonl: a thin call of
`contrastprompt bench --spec`.

    python bench/bbh_winrate.py --dry-run            # cells, requests, hours
    python bench/bbh_winrate.py                      # runs or resumes (results in the spec)
    python bench/bbh_winrate.py --tasks examples/tickets.jsonl --seeds 0,1,2

The spec whose tasks hold every task --tasks names is run (--tasks, --methods and --seeds then
run a slice of it); every other option goes to `contrastprompt bench` as given (--out is
--run-dir). Task model SmolLM2-135M, optimizer Qwen2.5-Coder-1.5B.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from contrastprompt.bench_spec import read_file
from contrastprompt.cli import main

REPO = Path(__file__).resolve().parents[1]
SPECS = [REPO / "bench/specs/bbh-quick.toml", REPO / "bench/specs/tickets-quick.toml"]


def bench_args(argv: list[str]) -> list[str]:
    """The `contrastprompt bench --spec` command line for these arguments: the first spec
    holding every task of --tasks (the BBH one without --tasks)."""
    rest = ["--run-dir" if a == "--out" else a for a in argv]
    asked = rest[rest.index("--tasks") + 1].split(",") if "--tasks" in rest[:-1] else []
    spec = next((s for s in SPECS if set(asked) <= set(read_file(s)["tasks"])), SPECS[0])
    return ["bench", "--spec", str(spec), *rest]


if __name__ == "__main__":
    t0 = time.time()
    try:
        main(bench_args(sys.argv[1:]))
    finally:
        print(f"wall time of this command: {(time.time() - t0) / 60:.1f} min", file=sys.stderr)
