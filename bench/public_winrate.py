"""The public bench as bench/specs/public.toml declares it (public-large.toml with --profile
large): a thin call of `contrastprompt bench --spec`, the one entry point of a bench.

    python bench/public_winrate.py --dry-run                      # cells, requests, hours
    python bench/public_winrate.py                                # runs or resumes
    python bench/public_winrate.py --seeds 0 --methods lcp,opro   # a slice of it
    python bench/public_winrate.py --validate                     # validation scores only
    python bench/public_winrate.py --profile large --dry-run

The spec names the tasks (cls:trec, sib:eng_Latn, cls:agnews), the methods, seeds 0-9 (each on
its own split of train, validation and test items), the profile (50 training and 50 validation
items, 300 task requests and 20 optimizer calls a run; "large" four times the requests), the
models (Qwen2.5-Coder-1.5B for both) and the start prompt ("Classify the input."). A slice
(--tasks, --methods, --seeds within the spec) runs only its own cells; the tables are always
those of the whole bench. Every other option goes to `contrastprompt bench` as given (--out is
--run-dir). The earlier one-split bench's results (bench/results/public: split seed 0 for three
seeds, cls:subj for cls:agnews) stay as committed; the LCP options it compared are no longer
LCP settings, so it is read, not re-run (docs/benchmarks/public.md).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from contrastprompt.bench_spec import read_file
from contrastprompt.cli import main

REPO = Path(__file__).resolve().parents[1]
SPECS = {
    "public": REPO / "bench/specs/public.toml",
    "large": REPO / "bench/specs/public-large.toml",
}
# the start prompt of every method there, as the spec gives it (adapt_sib.py starts from it too)
PROMPT = read_file(SPECS["public"])["prompt"]["default"]


def bench_args(argv: list[str]) -> list[str]:
    """The `contrastprompt bench --spec` command line for these arguments."""
    rest = list(argv)
    profile = "public"
    if "--profile" in rest:
        i = rest.index("--profile")
        profile = rest[i + 1] if i + 1 < len(rest) else ""
        del rest[i : i + 2]
    if profile not in SPECS:
        sys.exit(f"--profile: one of {', '.join(SPECS)}, not '{profile}'")
    return [
        "bench",
        "--spec",
        str(SPECS[profile]),
        *["--run-dir" if a == "--out" else a for a in rest],
    ]


if __name__ == "__main__":
    t0 = time.time()
    try:
        main(bench_args(sys.argv[1:]))
    finally:
        print(f"wall time of this command: {(time.time() - t0) / 60:.1f} min", file=sys.stderr)
