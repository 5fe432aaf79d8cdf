"""Accuracy of the embedded model with a plain instruction on BBH tasks (test split): the floor
later work has to beat. Prints accuracy with a 95% Wilson interval and writes a JSON report.

    python bench/baseline_accuracy.py [--tasks navigate date_understanding ...] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from pathlib import Path

from contrastprompt import evaluate_prompt

PROMPT = "Answer the question. End with 'Answer: <option>'."
DEFAULT = ["navigate", "date_understanding", "boolean_expressions", "sports_understanding"]


def wilson(k: float, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return 0.0, 0.0
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return c - h, c + h


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", nargs="+", default=DEFAULT)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--out", default="bench/out/baseline_accuracy.json")
    a = ap.parse_args()
    rows = []
    print(f"prompt: {PROMPT!r}; model local (SmolLM2-135M Q4_1); split test (seed 0)")
    print(f"{'task':<28} {'n':>4} {'acc':>6} {'95% CI':>15} {'req/s':>6}")
    for name in a.tasks:
        t0 = time.time()
        s = evaluate_prompt(PROMPT, f"bbh:{name}", split="test", limit=a.limit, use_cache=False)
        dt = time.time() - t0
        lo, hi = wilson(s["accuracy"] * s["n"], s["n"])
        rows.append(
            {
                "task": name,
                "n": s["n"],
                "accuracy": s["accuracy"],
                "ci95": [lo, hi],
                "wall_s": dt,
                "usage": s["usage"],
            }
        )
        print(
            f"{name:<28} {s['n']:>4} {s['accuracy']:>6.1%} {f'[{lo:.1%}, {hi:.1%}]':>15} "
            f"{s['n'] / dt:>6.2f}"
        )
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(
        json.dumps({"prompt": PROMPT, "machine": platform.platform(), "rows": rows}, indent=2)
    )
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
