"""Evaluator throughput vs a raw asyncio `openai` client, same requests, same servers, same run.

Both sides send identical greedy requests (BBH date_understanding, test split) to the embedded
model's servers with no response cache; the raw client spreads them over the replicas the same
way (least busy first). Prints requests/s and completion tokens/s at each concurrency and the
ratio evaluator/raw (target: at least 0.95).

    python bench/throughput.py [--n 40] [--concurrency 1 4 8]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import openai

from contrastprompt.data import load_task
from contrastprompt.evaluate import build_request, evaluate_async
from contrastprompt.llm import ModelHub
from contrastprompt.llm.local import sampling_overrides

PROMPT = "Answer the question. End with 'Answer: <option>'."


async def raw_client(urls: list[str], reqs: list, conc: int) -> tuple[float, int]:
    clients = [openai.AsyncOpenAI(api_key="none", base_url=u, max_retries=0) for u in urls]
    busy = [0] * len(clients)
    sem = asyncio.Semaphore(conc)

    async def one(r) -> int:  # noqa: ANN001
        async with sem:
            i = min(range(len(clients)), key=busy.__getitem__)
            busy[i] += 1
            try:
                resp = await clients[i].chat.completions.create(
                    model="local",
                    messages=[{"role": m.role, "content": m.content} for m in r.messages],
                    temperature=r.temperature,
                    max_tokens=r.max_tokens,
                    seed=r.seed,
                    extra_body=sampling_overrides(),
                )
                return resp.usage.completion_tokens
            finally:
                busy[i] -= 1

    t0 = time.monotonic()
    toks = sum(await asyncio.gather(*(one(r) for r in reqs)))
    dt = time.monotonic() - t0
    for c in clients:
        await c.close()
    return dt, toks


async def main(n: int, levels: list[int]) -> None:
    task = load_task("bbh:date_understanding")
    exs = task.split(0)[1][:n]
    reqs = [build_request(PROMPT, e, task) for e in exs]
    hub = ModelHub()  # no cache
    hub.backend("local")
    urls = next(iter(hub.servers.values())).base_urls
    print(f"{n} requests, {len(urls)} server replicas; cache off")
    print(
        f"{'conc':>4} {'eval req/s':>10} {'raw req/s':>10} {'eval tok/s':>10} "
        f"{'raw tok/s':>10} {'ratio':>6}"
    )
    for conc in levels:
        llm = hub.open("local", max_concurrency=conc)
        await raw_client(urls, reqs[:4], conc)  # warm both paths
        before = llm.stats.completion_tokens  # the hub's usage book is shared across levels
        t0 = time.monotonic()
        await evaluate_async(PROMPT, exs, task, llm)
        dt_eval = time.monotonic() - t0
        tok_eval = llm.stats.completion_tokens - before
        dt_raw, tok_raw = await raw_client(urls, reqs, conc)
        print(
            f"{conc:>4} {n / dt_eval:>10.2f} {n / dt_raw:>10.2f} {tok_eval / dt_eval:>10.1f} "
            f"{tok_raw / dt_raw:>10.1f} {dt_raw / dt_eval:>6.2f}"
        )
    await hub.aclose()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=40)
    ap.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8])
    a = ap.parse_args()
    asyncio.run(main(a.n, a.concurrency))
