"""Usage accounting per role (task model vs optimizer model).

Two counters are kept apart on purpose: *requests* is what a method asked for (cache hits
included; budgets count these, so a warm cache never makes a method look cheaper than it is),
*calls* is what actually reached an endpoint (what the bill counts).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

# USD per million tokens (input, output). Only models whose list price we know; others show no cost.
PRICES: dict[str, tuple[float, float]] = {
    "openai:gpt-4o-mini": (0.15, 0.60),
    "openai:gpt-4o": (2.50, 10.00),
    "openai:gpt-4.1-mini": (0.40, 1.60),
    "openai:gpt-4.1": (2.00, 8.00),
    "anthropic:claude-3-5-haiku-latest": (0.80, 4.00),
    "anthropic:claude-sonnet-4-0": (3.00, 15.00),
}


def price_for(model_id: str) -> tuple[float, float] | None:
    if model_id.startswith(("local", "gguf:")):
        return (0.0, 0.0)
    return PRICES.get(model_id)


@dataclass
class RoleUsage:
    requests: int = 0
    calls: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    length_stops: int = 0
    retries: int = 0
    failures: int = 0
    cost: float | None = 0.0

    def add_call(
        self,
        prompt_tokens: int,
        completion_tokens: int,
        finish_reason: str,
        price: tuple[float, float] | None,
    ) -> None:
        self.calls += 1
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens
        if finish_reason == "length":
            self.length_stops += 1
        if price is None:
            self.cost = None
        elif self.cost is not None:
            self.cost += (prompt_tokens * price[0] + completion_tokens * price[1]) / 1e6

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def merge(self, other: RoleUsage) -> None:
        for k in (
            "requests",
            "calls",
            "cache_hits",
            "prompt_tokens",
            "completion_tokens",
            "length_stops",
            "retries",
            "failures",
        ):
            setattr(self, k, getattr(self, k) + getattr(other, k))
        self.cost = None if self.cost is None or other.cost is None else self.cost + other.cost


@dataclass
class Usage:
    roles: dict[str, RoleUsage] = field(default_factory=dict)

    def role(self, name: str) -> RoleUsage:
        return self.roles.setdefault(name, RoleUsage())

    def to_dict(self) -> dict:
        return {k: asdict(v) | {"tokens": v.tokens} for k, v in self.roles.items()}

    @classmethod
    def from_dict(cls, data: dict) -> Usage:
        u = cls()
        for k, v in data.items():
            v = {x: y for x, y in v.items() if x != "tokens"}
            u.roles[k] = RoleUsage(**v)
        return u
