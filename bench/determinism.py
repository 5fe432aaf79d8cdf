"""Do the embedded model's answers repeat? Same requests, different order and concurrency.

Greedy task requests (temperature 0) share the server's prompt-prefix cache; sampled requests
(temperature 1.0, fixed seed) start from an empty KV cache (CONTRASTPROMPT_FRESH_KV=sampled).
Prints how many answers were identical between the two passes.

    python bench/determinism.py [--per-task 50]
"""

from __future__ import annotations

import argparse
import asyncio

from contrastprompt.data import load_task
from contrastprompt.llm import ChatRequest, Message, ModelHub
from contrastprompt.scoring import build_request

PROMPT = "Answer the question. End with 'Answer: <option>'."
TASKS = [
    "bbh:date_understanding",
    "bbh:boolean_expressions",
    "bbh:navigate",
    "examples/reviews.jsonl",
]


async def main(per_task: int) -> None:
    hub = ModelHub()
    llm = hub.open("local:smollm2-135m")  # the measured runs used the small model
    greedy: list[ChatRequest] = []
    for spec in TASKS:
        task = load_task(spec)
        greedy += [build_request(PROMPT, ex, task) for ex in task.split(0)[1][:per_task]]
    sampled = [
        ChatRequest(
            messages=(Message("user", f"Write an instruction for task {i}: judge a review."),),
            temperature=1.0,
            max_tokens=60,
            seed=i,
        )
        for i in range(per_task // 2)
    ]
    for name, reqs in (("greedy", greedy), ("sampled", sampled)):
        llm.max_concurrency = 1
        llm._sem = None
        first = [r.text for r in [await llm.backend.complete(q) for q in reqs]]
        llm.max_concurrency = 4
        llm._sem = None
        rev = await asyncio.gather(*(llm.backend.complete(q) for q in reversed(reqs)))
        second = [r.text for r in reversed(rev)]
        same = sum(a == b for a, b in zip(first, second, strict=True))
        print(f"{name}: {same}/{len(reqs)} identical (forward at concurrency 1 vs reversed at 4)")
    await hub.aclose()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--per-task", type=int, default=50)
    asyncio.run(main(ap.parse_args().per_task))
