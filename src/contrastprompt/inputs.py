"""What a use case is given, resolved once: a task name or Task object into a Task (metric and
limits applied), a prompt or prompt file into text, a cache path into an open response cache."""

from __future__ import annotations

from pathlib import Path

from platformdirs import user_cache_dir

from .config import Config
from .data.loaders import load_task
from .data.task import Task
from .errors import UserError
from .llm import ResponseCache
from .metrics import load_metric


def default_cache_path(config: Config | None = None) -> Path:
    """CONTRASTPROMPT_CACHE, else the platform's user cache dir (XDG_CACHE_HOME on Linux)."""
    c = config or Config.current()
    if c.cache_path:
        return c.cache_path
    return Path(user_cache_dir("contrastprompt")) / "responses.sqlite"


def open_cache(path: str | Path | None, enabled: bool = True) -> ResponseCache | None:
    if not enabled:
        return None
    return ResponseCache(path or default_cache_path())


def resolve_task(
    task: str | Task,
    *,
    data_root: str | Path | None = None,
    input_field: str = "input",
    target_field: str = "target",
    template: str | None = None,
    metric: str | None = None,
    max_tokens: int | None = None,
) -> Task:
    t = (
        task
        if isinstance(task, Task)
        else load_task(
            task,
            data_root=data_root,
            input_field=input_field,
            target_field=target_field,
            template=template,
        )
    )
    if metric:
        t.metric = load_metric(metric)
    if max_tokens:
        t.max_tokens = max_tokens
    return t


def read_prompt(prompt: str | None, prompt_file: str | Path | None) -> str:
    if prompt is not None and prompt_file is not None:
        raise UserError("give --prompt or --prompt-file, not both", field="--prompt")
    if prompt_file is not None:
        p = Path(prompt_file)
        if not p.is_file():
            raise UserError("prompt file does not exist", source=str(p), field="--prompt-file")
        try:
            return p.read_text(encoding="utf-8").strip()
        except UnicodeDecodeError:
            raise UserError(
                "prompt file is not valid UTF-8", source=str(p), field="--prompt-file"
            ) from None
    if prompt is None:
        raise UserError("no prompt given", field="--prompt", hint="use --prompt or --prompt-file")
    return prompt
