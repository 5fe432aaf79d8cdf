"""What the optimizers share besides the run context: settings handling (`BaseOptimizer`), their
template files, and report helpers. The run context, candidates and stop conditions they use come
from the run core (`contrastprompt.run`) and are re-exported here for the methods' files."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from ..data.task import Task
from ..run.context import (
    Candidate,
    EventHook,
    Optimizer,
    RunContext,
    best_of,
    fresh,
    gather_asks,
    gather_or_cancel,
    score_new,
)
from ..run.stoppers import (
    MaxCost,
    MaxOptimizerCalls,
    MaxTime,
    MaxTokens,
    Stopper,
    StopRun,
    TaskBudget,
)

TEMPLATES = Path(__file__).with_name("templates")


def template(name: str) -> str:
    return (TEMPLATES / name).read_text(encoding="utf-8")


class BaseOptimizer:
    """Defaults shared by the methods, and what a method says about itself.

    Settings are a dataclass (`Settings`), overridden by keyword; an unknown setting is an error
    naming the method, so a typo never runs silently. The class attributes describe the method
    to everything built on the registry: `name` (the CLI's --method), `title` (one line for
    help and tables), `fixed` (a fixed prompt, not an optimizer: the bench compares it apart),
    `origins` (each origin of the prompts it writes, with its colour in the report) and
    `report_data` (its own report section, as data)."""

    name = "base"
    title = ""
    fixed = False
    origins: dict[str, str] = {}
    Settings: type = object
    # settings added with a default that behaves otherwise than before they existed: the value
    # a stored run without the key behaved as. Such a run is not resumed or read back as if it
    # had run with today's default (it asked for other things)
    stored_before: dict[str, Any] = {}

    def __init__(self, settings: Any = None, **overrides: object) -> None:
        self.why = ""  # after step() returned None: why there is nothing to add
        self.s = settings or self.Settings()
        for k, v in overrides.items():
            if not hasattr(self.s, k):
                known = ", ".join(f.name for f in fields(self.s))
                raise TypeError(f"{self.name} has no setting '{k}' (its settings: {known})")
            setattr(self.s, k, v)

    def settings(self) -> dict:
        return asdict(self.s)

    def absent_settings(self) -> dict:
        """What each method setting meant for a run stored before the setting existed: its
        default, unless `stored_before` says the run behaved otherwise."""
        return {**asdict(type(self.s)()), **self.stored_before}

    def start(self, prompt: str) -> str:
        return prompt

    def adapt_task(self, task: Task) -> Task:
        return task

    def project(self, n_train: int, iterations: int) -> dict[str, int]:
        return {"task_requests": n_train, "optimizer_requests": 0}

    def forecast(
        self, n_train: int, iterations: int, budget: int | None, calls: int | None
    ) -> dict[str, Any] | None:
        """The run's requests under its limits, for a method that plans around them (with its
        `plan` in words, which --dry-run prints); None: the run core caps `project` itself."""
        return None

    def check_limits(self, n_train: int, budget: int | None, calls: int | None) -> None:
        """Refuse (UserError, naming the option) limits under which the method cannot take one
        step, before anything runs: the dry run and the run alike."""
        return None

    def report_data(self, events: Callable[[str], list[dict]], by_hash: dict) -> list[dict]:
        """The run report's sections for what this method did that the shared tables do not
        show, as data (`section`, `group`). `events(kind)` lists the run's stored events of that
        kind; `by_hash` maps prompt hashes to the scored prompts."""
        return []


def group(title: str, items: list[Any], *, open: bool = False, pre: bool = False) -> dict[str, Any]:
    """A titled list in a report section. An item is a text, or a (label, text) pair."""
    rows = [
        {"label": i[0], "text": str(i[1])}
        if isinstance(i, tuple)
        else {"label": "", "text": str(i)}
        for i in items
    ]
    return {"title": title, "items": rows, "open": open, "pre": pre}


def section(title: str, groups: list[dict], *, empty: str = "", kind: str = "") -> dict[str, Any]:
    """A report section: a heading, its groups, what to say when there are none."""
    return {"title": title, "groups": groups, "empty": empty, "kind": kind}


def accepted_settings(cls: type, wanted: dict[str, Any]) -> dict[str, Any]:
    """The subset of `wanted` that `cls`'s settings define (shared CLI options such as
    --candidates apply only where a method has that knob)."""
    names = {f.name for f in fields(cls.Settings)}
    return {k: v for k, v in wanted.items() if k in names}


__all__ = [
    "BaseOptimizer",
    "Candidate",
    "EventHook",
    "MaxCost",
    "MaxOptimizerCalls",
    "MaxTime",
    "MaxTokens",
    "Optimizer",
    "RunContext",
    "StopRun",
    "Stopper",
    "TaskBudget",
    "accepted_settings",
    "best_of",
    "fresh",
    "gather_asks",
    "gather_or_cancel",
    "group",
    "section",
    "score_new",
    "template",
]
