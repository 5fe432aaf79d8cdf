"""Stop conditions: small objects that compose. Each says, before a unit of work starts, why it
may not (`before`), and the run ends between units of work, never in the middle of one."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol


class StopRun(Exception):
    """Raised inside a step when a budget or stop condition says no more work may start."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class Spending(Protocol):
    """What a stop condition reads of a run (a `RunContext` has it): what has been spent so
    far. Stoppers know nothing else of the run, so any object that reports this can be checked."""

    started: float  # time.monotonic() when this process started the run

    def train_requests(self) -> int: ...
    def optimizer_requests(self) -> int: ...
    def totals(self) -> dict[str, dict]: ...
    def cost(self) -> float | None: ...


class Stopper(Protocol):
    def before(self, ctx: Spending, kind: str, cost: int) -> str | None:
        """Why the next unit of work (`kind` = "score" | "ask", `cost` task requests) may not
        start, or None."""
        ...


@dataclass
class TaskBudget:
    """Task-model requests on the training side (cache hits included): the unit every method is
    compared on. A candidate is only scored when its whole evaluation fits."""

    limit: int

    def before(self, ctx: Spending, kind: str, cost: int) -> str | None:
        if kind == "score" and ctx.train_requests() + cost > self.limit:
            return f"budget: {ctx.train_requests()} of {self.limit} task requests used"
        return None


@dataclass
class MaxOptimizerCalls:
    limit: int

    def before(self, ctx: Spending, kind: str, cost: int) -> str | None:
        if kind != "ask":
            return None
        calls = ctx.optimizer_requests()  # a store query: only where a call is about to start
        return f"max optimizer calls: {calls} of {self.limit}" if calls >= self.limit else None


@dataclass
class MaxTokens:
    limit: int

    def before(self, ctx: Spending, kind: str, cost: int) -> str | None:
        used = sum(t["prompt_tokens"] + t["completion_tokens"] for t in ctx.totals().values())
        return f"max tokens: {used} of {self.limit}" if used >= self.limit else None


@dataclass
class MaxCost:
    limit: float

    def before(self, ctx: Spending, kind: str, cost: int) -> str | None:
        total = ctx.cost()
        if total is None:
            return None  # unknown prices: the CLI warns before the run starts
        return f"max cost: ${total:.4f} of ${self.limit:.4f}" if total >= self.limit else None


@dataclass
class MaxTime:
    seconds: float

    def before(self, ctx: Spending, kind: str, cost: int) -> str | None:
        elapsed = time.monotonic() - ctx.started
        return (
            f"max time: {elapsed:.0f}s of {self.seconds:.0f}s" if elapsed >= self.seconds else None
        )


@dataclass(frozen=True)
class Budget:
    """The limits of one run, as one value: each limit given becomes a stop condition.

    `task_requests` counts task-model requests on the training side (the unit methods are
    compared on); `optimizer_calls`, `tokens`, `cost` (dollars) and `seconds` cap the rest;
    `patience` ends a run after that many iterations without a better prompt."""

    task_requests: int | None = None
    optimizer_calls: int | None = None
    tokens: int | None = None
    cost: float | None = None
    seconds: float | None = None
    patience: int | None = None

    def stoppers(self) -> list[Stopper]:
        made: list[Stopper] = []
        for limit, kind in (
            (self.task_requests, TaskBudget),
            (self.optimizer_calls, MaxOptimizerCalls),
            (self.tokens, MaxTokens),
            (self.cost, MaxCost),
            (self.seconds, MaxTime),
        ):
            if limit is not None:
                made.append(kind(limit))
        return made

    def limits(self) -> dict[str, float | int | None]:
        """The limits as run.json records them."""
        return {
            "budget": self.task_requests,
            "max_optimizer_calls": self.optimizer_calls,
            "max_tokens": self.tokens,
            "max_cost": self.cost,
            "max_time": self.seconds,
            "patience": self.patience,
        }
