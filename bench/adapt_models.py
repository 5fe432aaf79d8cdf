"""Model adaptation on BBH: a prompt LCP optimized for SmolLM2-135M, carried to other models.

    python bench/adapt_models.py          # navigate: SmolLM2 -> Qwen2.5-Coder-0.5B, -> Gemma 3 270M
    python bench/adapt_models.py --pairs qwen2.5-coder-0.5b:qwen2.5-coder-1.5b   # size

The source prompt is the best-on-train prompt of bench/lcp_bbh.py on the task (SmolLM2 task
model, 1.5B optimizer); the from-scratch run starts from the answer-format prompt that run
started from. Run dirs and `matrix.md` (PARTIAL until every target has finished) go to `--out`;
re-running resumes.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from contrastprompt.adapt import adapt
from contrastprompt.bench import default_prompt
from contrastprompt.data.loaders import load_task
from contrastprompt.views.adapt import matrix

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default="navigate")
    ap.add_argument(
        "--pairs",
        default="smollm2-135m:qwen2.5-coder-0.5b,smollm2-135m:gemma3-270m",
        help="source:target local model names, comma-separated",
    )
    ap.add_argument("--n-train", type=int, default=20)
    ap.add_argument("--test-limit", type=int, default=60)
    ap.add_argument("--candidates", type=int, default=4)
    ap.add_argument("--max-failures", type=int, default=8)
    ap.add_argument("--out", default="bench/results/adapt_models")
    a = ap.parse_args()
    src = Path(f"bench/results/lcp_bbh_1.5b/{a.task}-s0/best_prompt.txt")
    prompt = src.read_text(encoding="utf-8").strip()
    task = load_task(f"bbh:{a.task}")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    pairs = [tuple(x.split(":")) for x in a.pairs.split(",") if x]
    entries = []
    for source, target in pairs:
        t0 = time.time()
        res = adapt(
            task,
            prompt,
            source_model=f"local:{source}",
            model=f"local:{target}",
            initial_prompt=default_prompt(task),
            iterations=1,
            n_train=a.n_train,
            test_limit=a.test_limit,
            candidates=a.candidates,
            max_failures=a.max_failures,
            run_dir=out / f"{a.task}-{source}-to-{target}",
        )
        entries.append((f"{source} → {target}", res))
        print(f"{source} -> {target}: {time.time() - t0:.0f} s", flush=True)
        head = "**PARTIAL**\n\n" if len(entries) < len(pairs) else ""
        table = matrix(entries)
        cmd = f"`python bench/adapt_models.py --task {a.task} --pairs {a.pairs}`"
        (out / "matrix.md").write_text(f"{head}{cmd} (source: {src})\n\n{table}\n")
        print(table, flush=True)
