"""`bbh:<task>`: Big-Bench Hard, one JSON file a task: ours (`bbh/tasks/<task>.json`) or
BIG-Bench-Hard's own layout (`bbh/<task>.json`), so a checkout of it serves as a data root."""

from __future__ import annotations

import json
from pathlib import Path

from ...errors import UserError
from ..files import data_root
from ..task import Example, Task
from . import Family, register, unknown


def _bbh_dir(root: Path) -> Path | None:
    """Where the task files are: ours (`bbh/tasks/`), BIG-Bench-Hard's (`bbh/`), or the root."""
    for d in (root / "bbh" / "tasks", root / "bbh", root):
        if d.is_dir() and any(d.glob("*.json")):
            return d
    return None


def bbh_tasks(root: str | Path | None = None) -> list[str]:
    d = _bbh_dir(data_root(root))
    return sorted(p.stem for p in d.glob("*.json")) if d else []


def load_bbh(name: str, root: str | Path | None = None) -> Task:
    d = _bbh_dir(data_root(root))
    path = (d or data_root(root) / "bbh" / "tasks") / f"{name}.json"
    if not path.is_file():
        raise unknown("bbh", name, data_root(root), path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        rows = data["examples"]
    except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as e:
        raise UserError(f"not a BBH task file ({type(e).__name__})", source=str(path)) from None
    exs = [
        Example(input=r["input"], target=str(r["target"]), id=str(i)) for i, r in enumerate(rows)
    ]
    return Task(name=f"bbh:{name}", examples=exs, source=str(path))


register(Family("bbh", "BBH task", False, bbh_tasks, load_bbh))
