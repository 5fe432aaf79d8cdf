"""Accuracy of a local model with a plain instruction on BBH tasks (test split): the floor later
work has to beat, and whether a model is above chance at all. Prints accuracy with a 95% Wilson
interval beside the majority-class share of the same test items (what "always answer the most
common target" gets) and writes a JSON report.

    python bench/baseline_accuracy.py [--model local:qwen2.5-coder-0.5b] [--tasks navigate ...]
        [--limit N] [--per-type-prompt]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections import Counter
from pathlib import Path

from contrastprompt import evaluate_prompt
from contrastprompt.data import load_task
from contrastprompt.stats import wilson_interval

PROMPT = "Answer the question. End with 'Answer: <option>'."
DEFAULT = ["navigate", "date_understanding", "boolean_expressions", "sports_understanding"]


def wilson(k: float, n: int) -> tuple[float, float]:
    return wilson_interval(round(k), n)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tasks", nargs="+", default=DEFAULT)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--model", default="local:smollm2-135m")
    ap.add_argument(
        "--per-type-prompt",
        action="store_true",
        help="the answer-type prompts of bench/lcp_bbh.py instead of the one option prompt",
    )
    ap.add_argument("--out", default="bench/out/baseline_accuracy.json")
    a = ap.parse_args()
    rows = []
    print(f"model {a.model}; split test (seed 0)")
    print(f"{'task':<28} {'n':>4} {'acc':>6} {'95% CI':>15} {'majority':>9} {'req/s':>6}")
    for name in a.tasks:
        task = load_task(f"bbh:{name}")
        prompt = PROMPT
        if a.per_type_prompt:
            from lcp_bbh import PROMPTS

            prompt = PROMPTS.get(task.answer_type, PROMPT)
        test = task.split(0)[1][: a.limit]
        majority = Counter(e.target for e in test).most_common(1)[0][1] / len(test)
        t0 = time.time()
        s = evaluate_prompt(
            prompt, task, model=a.model, split="test", limit=a.limit, use_cache=False
        )
        dt = time.time() - t0
        lo, hi = wilson(s["accuracy"] * s["n"], s["n"])
        rows.append(
            {
                "task": name,
                "model": a.model,
                "prompt": prompt,
                "majority": majority,
                "n": s["n"],
                "accuracy": s["accuracy"],
                "ci95": [lo, hi],
                "wall_s": dt,
                "usage": s["usage"],
            }
        )
        print(
            f"{name:<28} {s['n']:>4} {s['accuracy']:>6.1%} {f'[{lo:.1%}, {hi:.1%}]':>15} "
            f"{majority:>9.1%} {s['n'] / dt:>6.2f}",
            flush=True,
        )
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(
        json.dumps({"prompt": PROMPT, "machine": platform.platform(), "rows": rows}, indent=2)
    )
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
