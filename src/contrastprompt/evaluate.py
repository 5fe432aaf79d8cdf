"""`evaluate_prompt()`: score any prompt on any data, the Python API of `contrastprompt
evaluate`. Optionally stores every record in a SQLite store and writes them as JSON lines."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from pathlib import Path

from .data.task import Example, Task, take
from .errors import UserError
from .inputs import open_cache, resolve_task
from .llm import LLM, ModelHub, Usage
from .run import RunSession
from .scoring import EvalResult, Record, evaluate_async
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
    exs = list(examples) if examples is not None else _examples(t, split, seed, n_train, limit)
    db = Store(store) if store else None
    settings = {"prompt": prompt, "split": split, "seed": seed, "model": str(model)}
    run_id = db.new_run("evaluate", t.name, settings) if db else 0
    if isinstance(model, LLM):  # an open client: the caller owns it
        session = None
    else:
        session = RunSession(
            store=db,
            run_id=run_id,
            models={"task": str(model)},
            cache=open_cache(cache, use_cache),
            base_url=base_url,
            concurrency=concurrency,
        )
    progress = _Progress(len(exs), db, run_id, prompt_hash(prompt), split, on_progress)
    result, usage, model_id = _score(prompt, exs, t, model, session, progress, placement, seed)
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
        **_figures(result),
        "usage": usage.to_dict(),
        "output": str(output) if output else None,
    }


def _examples(t: Task, split: str, seed: int, n_train: int | None, limit: int | None) -> list:
    """The split's examples, a seeded random `limit` of them: never the first N in file order,
    which on a file sorted by label is one label."""
    exs = take(select_split(t, split, seed, n_train), limit, seed)
    if not exs:
        raise UserError("no examples to evaluate", field="--limit")
    return exs


def _figures(result: EvalResult) -> dict:
    return {
        "accuracy": result.score,
        "n": result.n,
        "wall_time": result.wall_time,
        "records": [r.to_dict() for r in result.records],
    }


def write_records(path: Path, records: Sequence[Record]) -> None:
    """One JSON line per scored example: what the model answered and how it was scored."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r.to_dict(), ensure_ascii=False) + "\n")


class _Progress:
    """Each record as it comes: stored (with a store), counted, reported to `on_progress`."""

    def __init__(
        self,
        total: int,
        db: Store | None,
        run_id: int,
        phash: str,
        split: str,
        on_progress: ProgressFn | None,
    ) -> None:
        self.total, self.db, self.run_id, self.phash, self.split = total, db, run_id, phash, split
        self.on_progress = on_progress
        self.done, self.correct = 0, 0.0

    def start(self) -> None:
        if self.on_progress:
            self.on_progress(self.total, 0, 0.0)

    def __call__(self, rec: Record) -> None:
        self.done += 1
        self.correct += rec.score
        if self.db:
            self.db.add_record(self.run_id, self.phash, self.split, rec)
        if self.on_progress:
            self.on_progress(self.total, self.done, self.correct)


def _score(
    prompt: str,
    exs: list[Example],
    t: Task,
    model: str | LLM,
    session: RunSession | None,
    progress: _Progress,
    placement: str,
    seed: int,
) -> tuple[EvalResult, Usage, str]:
    """Score with an open client as given, or open `model` in the session and close it after
    (the store stays open for the caller)."""

    async def score(llm: LLM) -> EvalResult:
        progress.start()
        return await evaluate_async(
            prompt, exs, t, llm, placement=placement, seed=seed, on_record=progress
        )

    if isinstance(model, LLM):
        return asyncio.run(score(model)), model.usage, model.model_id
    assert session is not None

    async def work(hub: ModelHub) -> tuple[EvalResult, str]:
        llm = hub.open(model, role="task")
        return await score(llm), llm.model_id

    try:
        result, model_id = session.run(work)
        return result, session.hub.usage, model_id
    finally:
        session.close(keep_store=True)
