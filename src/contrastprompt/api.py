"""The public Python API: the same verbs as the CLI, taking strings or objects alike."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from pathlib import Path

from .config import Config
from .data.task import Example, Task, take
from .errors import UserError
from .evaluate import EvalResult, evaluate_async
from .llm import LLM, ModelHub, Usage
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
    run_id = (
        db.new_run(
            "evaluate",
            t.name,
            {"prompt": prompt, "split": split, "seed": seed, "model": str(model)},
        )
        if db
        else 0
    )
    phash = prompt_hash(prompt)
    state = {"done": 0, "correct": 0.0}

    def on_record(rec) -> None:  # noqa: ANN001
        state["done"] += 1
        state["correct"] += rec.score
        if db:
            db.add_record(run_id, phash, split, rec)
        if on_progress:
            on_progress(len(exs), state["done"], state["correct"])

    async def run() -> tuple[EvalResult, Usage, str]:
        if isinstance(model, LLM):
            return (
                await evaluate_async(
                    prompt, exs, t, model, placement=placement, seed=seed, on_record=on_record
                ),
                model.usage,
                model.model_id,
            )
        hub = ModelHub(
            cache=open_cache(cache, use_cache), base_url=base_url, max_concurrency=concurrency
        )
        try:
            llm = hub.open(model, role="task")
            if on_progress:
                on_progress(len(exs), 0, 0.0)
            res = await evaluate_async(
                prompt, exs, t, llm, placement=placement, seed=seed, on_record=on_record
            )
            return res, hub.usage, llm.model_id
        finally:
            await hub.aclose()

    result, usage, model_id = asyncio.run(run())
    if output:
        Path(output).parent.mkdir(parents=True, exist_ok=True)
        with open(output, "w", encoding="utf-8") as f:
            for r in result.records:
                f.write(json.dumps(r.to_dict(), ensure_ascii=False) + "\n")
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


def check_models(extra: list[str], base_url: str | None = None, check: bool = True) -> list[dict]:
    """What is configured (keys, endpoints, installed extras) and whether it answers."""
    from importlib.util import find_spec

    from .llm import chat
    from .llm.catalogue import catalogue, installed

    candidates: list[tuple[str, bool, str]] = []
    info: dict[str, dict] = {}
    server_ok = find_spec("llama_cpp") is not None
    for m in catalogue().values():
        name = f"local:{m.name}"
        ok = server_ok and installed(m)
        info[name] = {
            "size_mb": round(m.bytes / 1e6),
            "licence": m.licence,
            "speed": m.speed,
            "installed": ok,
        }
        candidates.append((name, ok, m.title if ok else f"not installed: {m.install_hint()}"))
    config = Config.from_env()
    url = base_url or config.openai_base_url
    if config.openai_api_key or url:
        candidates.append(
            ("openai:gpt-4o-mini" if not url else "openai:default", True, url or "api.openai.com")
        )
    if config.anthropic_api_key:
        ok = find_spec("anthropic") is not None
        candidates.append(
            (
                "anthropic:claude-3-5-haiku-latest",
                ok,
                "" if ok else "pip install 'contrastprompt[anthropic]'",
            )
        )
    for m in extra:
        candidates.append((m, True, ""))
    rows = []

    async def probe(hub: ModelHub, name: str) -> tuple[bool, str]:
        try:
            llm = hub.open(name, role="check")
            llm.max_tries = 2
            r = await llm.chat(chat(None, "Say OK.", max_tokens=4))
            return True, f"answered: {r.text.strip()[:20]!r}"
        except UserError as e:
            return False, str(e)
        except Exception as e:  # report, do not crash: this command is a diagnosis
            return False, f"{type(e).__name__}: {e}"[:200]

    async def run() -> None:
        hub = ModelHub(base_url=base_url)
        try:
            for name, configured, detail in candidates:
                reachable = None
                if check and configured:
                    reachable, msg = await probe(hub, name)
                    detail = f"{detail} {msg}".strip()
                rows.append(
                    {
                        "model": name,
                        "configured": configured,
                        "reachable": reachable,
                        "detail": detail,
                        **info.get(name, {}),
                    }
                )
        finally:
            await hub.aclose()

    asyncio.run(run())
    return rows
