"""LCP in adaptation mode (docs/method.md, "Adaptation"): the loop of `lcp.py`, started from a
prompt that works in a source setting (another model, or the same items in another language),
with the target setting's model and data. Only the failures change: the reasons are asked for
the examples the source setting answered right and the target setting gets wrong with the
current prompt, since those point at what the target needs that the source did not. The source
side is computed once, before the run (`source_right`); the target side is recomputed every
iteration. When fewer than `min_transfer_failures` such examples remain, all target failures are
used, and the run's events record that.

`write_in` names a language the optimizer must write the prompt in (language adaptation with
`--prompt-language target`); the meta-prompts themselves stay in English.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..evaluate import Record
from .base import Candidate, RunContext
from .lcp import LCP, LCPSettings


@dataclass
class AdaptSettings(LCPSettings):
    min_transfer_failures: int = 5
    write_in: str = ""


def transfer_failures(
    target_records: list[Record], source_right: set[str], minimum: int
) -> tuple[list[Record], bool]:
    """Right at the source and wrong at the target; all target failures (and True) when fewer
    than `minimum` are left."""
    wrong = [r for r in target_records if not r.correct]
    narrowed = [r for r in wrong if r.example_id in source_right]
    if len(narrowed) < minimum:
        return wrong, True
    return narrowed, False


class AdaptLCP(LCP):
    name = "lcp-adapt"
    Settings = AdaptSettings

    def __init__(
        self, source_right: set[str] | None = None, settings: AdaptSettings | None = None, **kw
    ) -> None:
        super().__init__(settings, **kw)
        self.source_right = set(source_right or ())

    def failures(self, ctx: RunContext, iteration: int, current: Candidate) -> list:
        chosen, fell_back = transfer_failures(
            current.records, self.source_right, self.s.min_transfer_failures
        )
        ctx.event(
            iteration,
            "transfer_failures",
            {"used": len(chosen), "fallback_to_all_target_failures": fell_back},
        )
        return chosen

    def answer_rule(self, ctx: RunContext) -> str:
        rule = ctx.task.answer_format()
        if self.s.write_in:
            rule += f". Write the instruction itself in {self.s.write_in}"
        return rule
