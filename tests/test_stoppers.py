"""Stop conditions read only what a run has spent (the `Spending` protocol), so they are checked
here against a plain record of spending, without a run."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from contrastprompt.run.stoppers import Budget, MaxCost, MaxTime, Spending


@dataclass
class Spent:
    train: int = 0
    calls: int = 0
    tokens: dict = field(default_factory=dict)
    dollars: float | None = 0.0
    started: float = field(default_factory=time.monotonic)

    def train_requests(self) -> int:
        return self.train

    def optimizer_requests(self) -> int:
        return self.calls

    def totals(self) -> dict[str, dict]:
        return self.tokens

    def cost(self) -> float | None:
        return self.dollars


def reasons(budget: Budget, spent: Spending, kind: str, cost: int = 0) -> list[str]:
    return [r for s in budget.stoppers() if (r := s.before(spent, kind, cost))]


def test_a_scoring_starts_only_when_all_of_it_fits_the_task_budget():
    b = Budget(task_requests=100)
    assert reasons(b, Spent(train=50), "score", 50) == []
    assert reasons(b, Spent(train=51), "score", 50) == ["budget: 51 of 100 task requests used"]
    assert reasons(b, Spent(train=99), "ask") == []  # the task budget does not stop asks


def test_the_call_cap_stops_asks_only():
    b = Budget(optimizer_calls=20)
    assert reasons(b, Spent(calls=19), "ask") == []
    assert reasons(b, Spent(calls=20), "ask") == ["max optimizer calls: 20 of 20"]
    assert reasons(b, Spent(calls=20), "score", 50) == []


def test_tokens_count_every_role():
    b = Budget(tokens=1000)
    roles = {"task": {"prompt_tokens": 400, "completion_tokens": 100}}
    assert reasons(b, Spent(tokens=roles), "ask") == []
    roles["optimizer"] = {"prompt_tokens": 450, "completion_tokens": 50}
    assert reasons(b, Spent(tokens=roles), "ask") == ["max tokens: 1000 of 1000"]


def test_unknown_prices_never_stop_a_run_and_known_ones_do():
    assert MaxCost(0.01).before(Spent(dollars=None), "ask", 0) is None
    assert MaxCost(0.01).before(Spent(dollars=0.02), "ask", 0) == "max cost: $0.0200 of $0.0100"


def test_time_counts_from_when_this_process_started_the_run():
    assert MaxTime(60).before(Spent(), "ask", 0) is None
    late = Spent(started=time.monotonic() - 61)
    assert MaxTime(60).before(late, "ask", 0).startswith("max time: 61s of 60s")


def test_every_limit_given_is_one_stopper_and_none_given_is_none():
    assert Budget().stoppers() == []
    full = Budget(task_requests=1, optimizer_calls=1, tokens=1, cost=1.0, seconds=1.0)
    assert len(full.stoppers()) == 5
