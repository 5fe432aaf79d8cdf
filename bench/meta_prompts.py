"""How well the optimizer model works with LCP's meta-prompts: parse rate and instruction share.

For each task: score the initial prompt on a seeded training sample with the task model, then run
LCP's own reason and candidate steps (the production code, `LCP._reasons` / `LCP._write`, at
LCP's default settings) on its failures with the optimizer model, and count
  - parse rate: optimizer answers that yield a usable reason or prompt, over all answers
    (retries included: a retry is a second answer);
  - instruction share: candidates that are task instructions, not requests for more information
    or answers to one question (a regex check, printed beside each candidate so a reader can
    judge it too).

    python bench/meta_prompts.py --tasks bbh:navigate,bbh:date_understanding --failures 6
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

from judge import is_instruction

from contrastprompt.inputs import resolve_task
from contrastprompt.llm import ModelHub, ResponseCache
from contrastprompt.optimizers.base import RunContext
from contrastprompt.optimizers.lcp import LCP
from contrastprompt.store import Store

INITIAL = {
    "yes/no": "Answer the question. End with 'Answer: Yes' or 'Answer: No'.",
    "true/false": "Evaluate the expression. End with 'Answer: True' or 'Answer: False'.",
    "choice": "Answer the question. End with 'Answer: <option>'.",
    "label": "Answer the question.",
}


async def probe(task_spec: str, args: argparse.Namespace, hub: ModelHub, work: Path) -> dict:
    task = resolve_task(task_spec)
    train, _ = task.split(seed=args.seed, n_train=args.n_train)
    prompt = args.prompt or INITIAL.get(task.answer_type, "Answer the question.")
    store = Store(work / f"{task.name.replace(':', '_')}.sqlite")
    run_id = store.new_run("probe", task.name, {}, "probe")
    ctx = RunContext(
        task=task,
        train=train,
        task_llm=hub.open(args.model, role="task"),
        optimizer=hub.open(args.optimizer_model, role="optimizer"),
        store=store,
        run_id=run_id,
        seed=args.seed,
    )
    lcp = LCP(candidates=args.candidates, max_failures=args.failures)
    t0 = time.monotonic()
    cur = await ctx.score(prompt, origin="initial", iteration=0)
    failures = ctx.rng("failures", 1).sample(
        ctx.failures(cur), min(args.failures, len(ctx.failures(cur)))
    )
    reasons = await lcp._reasons(ctx, 1, cur, failures, keep=0)
    if reasons:
        written = await lcp._write(ctx, 1, cur, reasons, args.candidates, keep=0, held=set())
        for i, text, subset in written:  # scored as LCP scores them, in a fixed order
            meta = {"index": i, "reasons": subset}
            await ctx.score(text, origin="candidate", iteration=1, parents=[cur.hash], meta=meta)
    answers = ctx.optimizer.stats.requests
    events = store.events(run_id)
    skipped = [e for e in events if e["kind"] == "skipped"]
    cands = [c for c in ctx.pool if c.origin == "candidate"]
    dup = sum(1 for e in events if e["kind"] == "duplicate")
    # a candidate the format guard rejected was parsed all the same
    rejected = sum(1 for e in events if e["kind"] == "guard" and e["data"]["action"] != "repair")
    # usable = parsed answers: reason answers that gave a reason (one answer explains
    # `reasons_per_call` failures, chunked as LCP chunks them) + candidates parsed (scored,
    # duplicate or rejected)
    k = lcp.s.reasons_per_call
    explained = {r["example_id"] for r in reasons}
    chunks = [failures[i : i + k] for i in range(0, len(failures), k)]
    told = sum(1 for ch in chunks if any(rec.example_id in explained for rec in ch))
    usable = told + len(cands) + dup + rejected
    out = {
        "task": task.name,
        "initial_train": cur.score,
        "failures_sent": len(failures),
        "optimizer_answers": answers,
        "usable_answers": usable,
        "skipped": len(skipped),
        "candidates": [
            {"text": c.text, "train": c.score, "instruction": is_instruction(c.text)} for c in cands
        ],
        "reasons": [r["reason"] for r in reasons],
        "wall_s": round(time.monotonic() - t0),
    }
    store.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument(
        "--tasks", default="bbh:navigate,bbh:date_understanding,bbh:sports_understanding"
    )
    ap.add_argument("--model", default="local:smollm2-135m")
    ap.add_argument("--optimizer-model", default="local:qwen2.5-coder-1.5b")
    ap.add_argument("--prompt", default=None)
    ap.add_argument("--n-train", type=int, default=30)
    ap.add_argument("--failures", type=int, default=6)
    ap.add_argument("--candidates", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="bench/out/meta_prompts.json")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cp-meta-"))
    hub = ModelHub(cache=ResponseCache(work / "cache.sqlite"), max_concurrency=4, log_dir=work)
    results = []

    async def run() -> None:
        try:
            for spec in args.tasks.split(","):
                r = await probe(spec, args, hub, work)
                results.append(r)
                print(json.dumps(r, indent=1, ensure_ascii=False), flush=True)
        finally:
            await hub.aclose()

    asyncio.run(run())
    answers = sum(r["optimizer_answers"] for r in results)
    usable = sum(r["usable_answers"] for r in results)
    cands = [c for r in results for c in r["candidates"]]
    instr = sum(c["instruction"] for c in cands)
    print(f"\n{'task':32} {'answers':>8} {'usable':>7} {'cands':>6} {'instr':>6} {'wall s':>7}")
    for r in results:
        n_c = len(r["candidates"])
        n_i = sum(c["instruction"] for c in r["candidates"])
        print(
            f"{r['task']:32} {r['optimizer_answers']:>8} {r['usable_answers']:>7} "
            f"{n_c:>6} {n_i:>6} {r['wall_s']:>7}"
        )
    print(
        f"parse rate {usable}/{answers} = {usable / max(answers, 1):.0%}; "
        f"instruction share {instr}/{len(cands)} = {instr / max(len(cands), 1):.0%}"
    )
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"args": vars(args), "results": results}, indent=1))
    sys.exit(0)


if __name__ == "__main__":
    main()
