"""Do batched answers differ from unbatched ones? 200 greedy task requests per model, the same
items through the serial engine (each request alone, from an empty cache: the reference) and
through the batch engine at concurrency 16 with replies running to their end (no early stop,
so the texts can be compared whole), then once more with early stop.

    python bench/batch_answers.py --out bench/results/batch_answers.json

Per model: answers with identical text, identical extracted answer, accuracy of each engine, and
the completion tokens early stop saved. Items: 100 SST-2 and 100 TREC (seeded random samples).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
from pathlib import Path

from throughput import PROMPTS, load_items, send

from contrastprompt.llm.catalogue import gguf_path, lookup
from contrastprompt.llm.local import LocalBackend, LocalServer
from contrastprompt.scoring import build_request


async def through(engine: str, model: str, reqs: list, conc: int) -> dict:
    server = LocalServer(gguf_path(lookup(model)), engine=engine, fresh_kv="all")
    backend = LocalBackend(server, f"local:{model}", 600)
    try:
        await asyncio.to_thread(backend.start)
        return await send(backend, reqs, conc)
    finally:
        await backend.aclose()
        server.stop()


async def one_model(model: str, n: int) -> dict:
    items, reqs = [], []
    for name in ("sst2", "trec"):
        task = load_items(name, n)
        items += [(task, e) for e in task.examples]
        reqs += [build_request(PROMPTS[name], e, task) for e in task.examples]
    full = [dataclasses.replace(r, until="") for r in reqs]
    ref = await through("serial", model, full, 2)
    batched = await through("batch", model, full, 16)
    cut = await through("batch", model, reqs, 16)

    def answers(got: dict) -> list:
        return [t.extract(x, e) for x, (t, e) in zip(got["texts"], items, strict=True)]

    def acc(ans: list) -> float:
        return sum(float(t.metric(a, e)) for a, (t, e) in zip(ans, items, strict=True)) / len(ans)

    a_ref, a_b, a_cut = answers(ref), answers(batched), answers(cut)
    same = sum(x == y for x, y in zip(ref["texts"], batched["texts"], strict=True))
    return {
        "requests": len(reqs),
        "same_text": same,
        "same_answer": sum(x == y for x, y in zip(a_ref, a_b, strict=True)),
        "same_answer_early_stop": sum(x == y for x, y in zip(a_ref, a_cut, strict=True)),
        "accuracy_serial": round(acc(a_ref), 4),
        "accuracy_batch": round(acc(a_b), 4),
        "accuracy_batch_early_stop": round(acc(a_cut), 4),
        "completion_tokens_full": batched["completion_tokens"],
        "completion_tokens_early_stop": cut["completion_tokens"],
        "seconds": {"serial": ref["seconds"], "batch": batched["seconds"], "cut": cut["seconds"]},
    }


async def main(a: argparse.Namespace) -> None:
    out = {}
    for model in a.models:
        out[model] = await one_model(model, a.n)
        print(model, json.dumps(out[model]), flush=True)
        if a.out:
            Path(a.out).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["smollm2-135m", "qwen2.5-coder-1.5b"])
    ap.add_argument("--n", type=int, default=100, help="items per task (two tasks)")
    ap.add_argument("--out", default="")
    asyncio.run(main(ap.parse_args()))
