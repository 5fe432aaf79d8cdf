"""Language adaptation on XCOPA: one English prompt, adapted to several languages.

    python bench/adapt_xcopa.py                      # sw, id, zh with Qwen2.5-Coder-0.5B
    python bench/adapt_xcopa.py --langs sw --prompt-language both

For each target language the source setting is the same items in English (XCOPA's
translate-test data, parallel by id) on the same model; `contrastprompt.adapt` scores the prompt
there, adapts it on the target language and runs LCP from scratch at the same budget. Run dirs
and the matrix (`matrix.md`, marked PARTIAL until every language has finished) go to `--out`;
re-running resumes. The source prompt is hand-written, not optimized on English first.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from contrastprompt.adapt import adapt
from contrastprompt.views.adapt import matrix

PROMPT = "Pick the more plausible option. End with 'Answer: (A)' or 'Answer: (B)'."

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--langs", default="sw,id,zh")
    ap.add_argument("--model", default="local:qwen2.5-coder-0.5b")
    ap.add_argument("--prompt-language", default="source")
    ap.add_argument("--n-train", type=int, default=20)
    ap.add_argument("--test-limit", type=int, default=60)
    ap.add_argument("--candidates", type=int, default=4)
    ap.add_argument("--max-failures", type=int, default=8)
    ap.add_argument("--out", default="bench/results/adapt_xcopa")
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    langs = [x for x in a.langs.split(",") if x]
    entries = []
    for lang in langs:
        t0 = time.time()
        res = adapt(
            f"xcopa:{lang}",
            PROMPT,
            source_task=f"xcopa:{lang}:translate-test",
            model=a.model,
            prompt_language=a.prompt_language,
            iterations=1,
            n_train=a.n_train,
            test_limit=a.test_limit,
            candidates=a.candidates,
            max_failures=a.max_failures,
            run_dir=out / lang,
        )
        entries.append((lang, res))
        print(f"{lang}: {time.time() - t0:.0f} s", flush=True)
        partial = len(entries) < len(langs)
        head = "**PARTIAL**: not every language has finished.\n\n" if partial else ""
        cmd = f"`python bench/adapt_xcopa.py --langs {a.langs} --model {a.model}`"
        table = matrix(entries, spread=True)
        (out / "matrix.md").write_text(f"{head}{cmd}\n\n{table}\n", encoding="utf-8")
        drift = {lang: r.source.get("drift") for lang, r in entries}
        (out / "matrix.json").write_text(json.dumps({"partial": partial, "drift": drift}, indent=2))
        print(table, flush=True)
