"""`evaluate_prompt()`: score any prompt on any data, the Python API of `contrastprompt
evaluate`. Optionally stores every record in a SQLite store and writes them as JSON lines."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from pathlib import Path

from .data.task import Example, Task, take
from .errors import UserError
from .llm import LLM, ModelHub
from .run import RunSession
from .scoring import EvalResult, Record, evaluate_async
from .session import open_cache, resolve_task
from .store import Store, prompt_hash

ProgressFn = Callable[[int, int, float], None]


def select_split(task: Task, split: str, seed: int, n_train: int | None) -> list[Example]:
    if split == "all":
        if task.fixed_split is not None:
            return list(task.fixed_split[0]) + list(task.fixed_split[1])
        return list(task.examples)
    train, test = task.split(seed=seed, n_train=n_train)
    return train if split == "train" else test


def evaluate_prompt(
    prompt: str,
    task: str | Task,
    *,
    model: str | LLM = "local",
    examples: Sequence[Example] | None = None,
    split: str = "test",
    limit: int | None = None,
    seed: int = 0,
    n_train: int | None = None,
    placement: str = "user",
    data_root: str | Path | None = None,
    input_field: str = "input",
    target_field: str = "target",
    template: str | None = None,
    metric: str | None = None,
    max_tokens: int | None = None,
    concurrency: int | None = None,
    base_url: str | None = None,
    cache: str | Path | None = None,
    use_cache: bool = True,
    output: str | Path | None = None,
    store: str | Path | None = None,
    on_progress: ProgressFn | None = None,
) -> dict:
    """Score `prompt` and return a summary dict (accuracy, usage, records path).

    `task` may be a spec string or a `Task`; `model` a model string or an open `LLM`; pass
    `examples` to score exactly those instead of a split.
    """
    t = resolve_task(
        task,
        data_root=data_root,
        input_field=input_field,
        target_field=target_field,
        template=template,
        metric=metric,
        max_tokens=max_tokens,
    )
    exs = (
        list(examples)
        if examples is not None
        else take(select_split(t, split, seed, n_train), limit, seed)
    )
    if not exs:
        raise UserError("no examples to evaluate", field="--limit")
    db = Store(store) if store else None
    settings = {"prompt": prompt, "split": split, "seed": seed, "model": str(model)}
    run_id = db.new_run("evaluate", t.name, settings) if db else 0
    phash = prompt_hash(prompt)
    state = {"done": 0, "correct": 0.0}

    def on_record(rec: Record) -> None:
        state["done"] += 1
        state["correct"] += rec.score
        if db:
            db.add_record(run_id, phash, split, rec)
        if on_progress:
            on_progress(len(exs), state["done"], state["correct"])

    async def score(llm: LLM) -> EvalResult:
        return await evaluate_async(
            prompt, exs, t, llm, placement=placement, seed=seed, on_record=on_record
        )

    if isinstance(model, LLM):  # an open client: the caller owns it
        result = asyncio.run(score(model))
        usage, model_id = model.usage, model.model_id
    else:
        session = RunSession(
            store=db,
            run_id=run_id,
            models={"task": str(model)},
            cache=open_cache(cache, use_cache),
            base_url=base_url,
            concurrency=concurrency,
        )

        async def work(hub: ModelHub) -> tuple[EvalResult, str]:
            llm = hub.open(model, role="task")
            if on_progress:
                on_progress(len(exs), 0, 0.0)
            return await score(llm), llm.model_id

        try:
            result, model_id = session.run(work)
            usage = session.hub.usage
        finally:
            session.close(keep_store=True)
    if output:
        write_records(Path(output), result.records)
    if db:
        db.finish_run(run_id, "done", None)
        db.close()
    return {
        "task": t.name,
        "split": split,
        "model": model_id,
        "prompt": prompt,
        "accuracy": result.score,
        "n": result.n,
        "wall_time": result.wall_time,
        "usage": usage.to_dict(),
        "output": str(output) if output else None,
        "records": [r.to_dict() for r in result.records],
    }


def write_records(path: Path, records: Sequence[Record]) -> None:
    """One JSON line per scored example: what the model answered and how it was scored."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r.to_dict(), ensure_ascii=False) + "\n")
