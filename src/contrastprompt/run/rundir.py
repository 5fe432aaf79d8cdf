"""A run dir's identity: what a run's fingerprint is made of, and opening the stored run that
matches it (resume), refusing one that does not, or replacing it when told to."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

from ..data.task import Example, Task
from ..errors import UserError
from ..store import Store

# keys added to the settings after runs had been stored: a run that has none of them resumes
# when every key it does have agrees, and gains them (it was made by code that could not record
# them; refusing would strand every earlier run dir)
LATER_KEYS = ("scoring", "data_hash")


def fingerprint(settings: dict) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def scoring_settings(task: Task) -> dict[str, Any]:
    """What decides a stored score besides the prompt: metric, input template, answer type and
    generation limits. A change in any of these makes stored evaluations stale."""
    m = task.metric
    max_tokens, stop = task.limits()
    return {
        "metric": f"{getattr(m, '__module__', '?')}:{getattr(m, '__qualname__', repr(m))}",
        "input_template": task.input_template or "",
        "answer_type": task.answer_type,
        "labels": list(task.labels),
        "max_tokens": max_tokens,
        "stop": list(stop),
    }


def data_hash(examples: list[Example], task: Task) -> str:
    """Content of the examples as the model sees them, with their targets: fixing a label or an
    input changes it, so stale scores are never reused."""
    h = hashlib.sha256()
    for e in examples:
        h.update(json.dumps([e.id, task.render(e), e.target], ensure_ascii=False).encode())
    return h.hexdigest()[:16]


def train_ids(train: list[Example]) -> str:
    return hashlib.sha256(",".join(e.id for e in train).encode()).hexdigest()[:12]


def resumable(old: dict, new: dict, method_defaults: dict) -> bool:
    """Whether a stored run's settings are today's minus keys added since: LATER_KEYS for runs
    stored before them, and method settings added since at the value a run without them behaved
    as (`method_defaults`: the default, or the method's `stored_before` where the default
    changed what a run asks)."""

    def agree(key: str, value: Any) -> bool:
        now = new.get(key)
        if key == "method_settings" and isinstance(value, dict) and isinstance(now, dict):
            added = set(now) - set(value)
            return all(now.get(k) == v for k, v in value.items()) and all(
                k in method_defaults and now[k] == method_defaults[k] for k in added
            )
        return now == value

    if not all(agree(k, v) for k, v in old.items()):
        return False
    return set(new) <= set(old) or not any(k in old for k in LATER_KEYS)


def open_run(
    run_dir: Path, settings: dict, force: bool, method_defaults: dict | None = None
) -> tuple[Store, int, bool]:
    """The run dir's store and the id of the run with these settings, and whether it resumes.

    A stored run with other settings is refused (a run dir holds one run), or with `force` set
    aside under a dated name, never deleted."""
    store = Store(run_dir / "store.sqlite")
    prev = store.find_run("optimize")
    fp = fingerprint(settings)
    if prev is None:
        return store, store.new_run("optimize", settings["task"], settings, fp), False
    if prev["fingerprint"] == fp:
        return store, prev["id"], True
    old = json.loads(prev["settings"])
    if resumable(old, settings, method_defaults or {}):
        store.update_run_settings(prev["id"], settings, fp)
        return store, prev["id"], True
    diff = sorted(k for k in set(old) | set(settings) if old.get(k) != settings.get(k))
    if not force:
        store.close()
        raise UserError(
            f"it holds a run with other settings (differs in: {', '.join(diff)})",
            source=str(run_dir),
            field="--run-dir",
            hint="use another --run-dir, or --force to start over here",
        )
    store.close()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for name in ("store.sqlite", "store.sqlite-wal", "store.sqlite-shm"):
        p = run_dir / name
        if p.exists():
            p.rename(run_dir / f"{name}.replaced-{stamp}")
    store = Store(run_dir / "store.sqlite")
    return store, store.new_run("optimize", settings["task"], settings, fp), False
