"""Score one prompt on examples, concurrently, through the shared LLM layer."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .data.extract import answer_spec
from .data.task import Example, Record, Task
from .llm import LLM, ChatRequest, Message

PLACEMENTS = ("user", "system")


@dataclass
class EvalResult:
    prompt: str
    records: list[Record]
    wall_time: float = 0.0

    @property
    def score(self) -> float:
        return sum(r.score for r in self.records) / len(self.records) if self.records else 0.0

    @property
    def n(self) -> int:
        return len(self.records)


def build_request(
    prompt: str,
    example: Example,
    task: Task,
    placement: str = "user",
    seed: int | None = 0,
    early_stop: bool = True,
) -> ChatRequest:
    """The task-model request for one example. The prompt is never `.format`-ed, so braces in
    prompts and data are safe; `placement` puts it in the system message or before the input.
    With `early_stop`, a closed-answer task lets an engine that can (the local batch engine)
    end the reply once it holds its answer, instead of running on to the token limit."""
    text = task.render(example)
    max_tokens, stop = task.limits()
    until = ""
    if early_stop and task.extractor is None:
        spec = answer_spec(task.answer_type, task.labels, prompt)
        until = json.dumps(spec, sort_keys=True) if spec else ""
    if placement == "system":
        msgs = ((Message("system", prompt),) if prompt.strip() else ()) + (Message("user", text),)
    else:
        content = f"{prompt.strip()}\n\n{text}" if prompt.strip() else text
        msgs = (Message("user", content),)
    return ChatRequest(
        messages=msgs, temperature=0.0, max_tokens=max_tokens, seed=seed, stop=stop, until=until
    )


async def evaluate_async(
    prompt: str,
    examples: Sequence[Example],
    task: Task,
    llm: LLM,
    *,
    placement: str = "user",
    seed: int | None = 0,
    done: dict[str, Record] | None = None,
    on_record: Callable[[Record], None] | None = None,
    threshold: float = 1.0,
) -> EvalResult:
    """Score `prompt` on `examples`. Records in `done` (from a run store) are reused as they are,
    so a resumed run never asks again for an example it already scored. A record is correct
    when its score reaches `threshold`."""
    t0 = time.monotonic()
    done = done or {}

    async def one(ex: Example) -> Record:
        if ex.id in done:
            done[ex.id].threshold = threshold
            return done[ex.id]
        if task.runner is not None:
            (text, finish), cached = await task.runner(prompt, ex), False
        else:
            resp = await llm.chat(build_request(prompt, ex, task, placement, seed))
            text, finish, cached = resp.text, resp.finish_reason, resp.cached
        pred = task.extract(text, ex)
        rec = Record(
            example_id=ex.id,
            input=task.render(ex),
            output=text,
            extracted=pred,
            target=ex.target,
            score=float(task.metric(pred, ex)),
            finish_reason=finish,
            cached=cached,
            threshold=threshold,
        )
        if on_record is not None:
            on_record(rec)
        return rec

    records = await asyncio.gather(*(one(ex) for ex in examples))
    return EvalResult(prompt=prompt, records=list(records), wall_time=time.monotonic() - t0)
