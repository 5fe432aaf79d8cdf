"""LCP in adaptation mode (docs/method.md, "Adaptation"): the loop of `lcp.py`, started from a
prompt that works in a source setting (another model, or the same items in another language),
with the target setting's model and data. Only the failures change: the reasons are asked for
the examples the source setting answered right and the target setting gets wrong with the
current prompt, since those point at what the target needs that the source did not. The source
side is computed once, before the run (`source_right`); the target side is recomputed every
iteration. When fewer than `min_transfer_failures` such examples remain, all target failures are
used, and the run's events record that.

`write_in` names a language the optimizer must write the prompt in (language adaptation with
`--prompt-language target`). `meta_language` names the language the meta-prompts themselves are
sent in (`--meta-language target`): the optimizer model translates LCP's three requests once, at
the first step: the reason request the run sends (one failure a call, or several with
`reasons_per_call` above 1), the candidate and the contrast request. A translation is used only
if it keeps every `{field}` placeholder and every tag the parsers look for, and (for a language
`languages.py` knows) reads as that language; otherwise that template stays in English and an
event says why: a template without its placeholders would send the optimizer an empty request,
and the 1.5B model, asked for Swahili, answered in Italian.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..languages import NAMES, code_of, guess
from ..scoring import Record
from .base import Candidate, RunContext, gather_or_cancel, template
from .lcp import LCP, LCPSettings
from .parsing import tagged

_MARKS = re.compile(r"\{[a-z_]+\}|</?[a-z_]+>")


@dataclass
class AdaptSettings(LCPSettings):
    min_transfer_failures: int = 5
    write_in: str = ""
    meta_language: str = ""  # language of the meta-prompts; "" keeps the English templates
    translate_max_tokens: int = 900


def transfer_failures(
    target_failures: list[Record], source_right: set[str], minimum: int
) -> tuple[list[Record], bool]:
    """The target's failures that the source setting answered right; all target failures (and
    True) when fewer than `minimum` are left."""
    narrowed = [r for r in target_failures if r.example_id in source_right]
    if len(narrowed) < minimum:
        return target_failures, True
    return narrowed, False


def marks(text: str) -> list[str]:
    """The placeholders and tags of a template, in order: what a translation must keep."""
    return sorted(_MARKS.findall(text))


def translation_problem(text: str | None, english: str, language: str) -> str:
    """Why a template's translation cannot be used, or "" when it can."""
    if not text:
        return "no translation in the answer"
    if marks(text) != marks(english):
        return "placeholders or tags lost or changed"
    code = code_of(language)
    if code:
        seen = guess(_MARKS.sub(" ", text), tuple(NAMES))
        if seen != code:
            return f"not in {language} (reads as {NAMES.get(seen or '', 'nothing known')})"
    return ""


class AdaptLCP(LCP):
    name = "lcp-adapt"
    title = "LCP in adaptation mode: failures where the source prompt was right in its own setting"
    Settings = AdaptSettings

    def __init__(
        self, source_right: set[str] | None = None, settings: AdaptSettings | None = None, **kw
    ) -> None:
        super().__init__(settings, **kw)
        self.source_right = set(source_right or ())
        self._translated = not self.s.meta_language
        self.t_translate = template("adapt_translate.txt")

    async def step(self, ctx: RunContext, iteration: int, current: Candidate) -> Candidate | None:
        if not self._translated:
            await self._translate_templates(ctx, iteration)
        return await super().step(ctx, iteration, current)

    async def _translate_templates(self, ctx: RunContext, iteration: int) -> None:
        """Swap LCP's templates for translations into `meta_language`: the reason request this
        run sends (one failure a call, or several), the candidate and the contrast request.
        Greedy and labelled without the iteration, so a resumed run gets the same text from
        the cache."""
        reason = "t_reasons" if self.s.reasons_per_call > 1 else "t_reason"
        names = (reason, "t_candidate", "t_contrast")

        async def one(attr: str) -> dict:
            english = getattr(self, attr)
            text, raw = await ctx.ask_parsed(
                self.t_translate,
                {"language": self.s.meta_language, "text": english},
                lambda r: tagged(r, "translation"),
                temperature=0.0,
                max_tokens=self.s.translate_max_tokens,
                label=("translate", attr, self.s.meta_language),
                retries=1,
                retry_temperature=0.7,
                stop=("</translation>",),
            )
            why = translation_problem(text, english, self.s.meta_language)
            if not why:
                setattr(self, attr, text)
            return {"template": attr[2:], "translated": not why, "why": why, "raw": raw[:300]}

        done = await gather_or_cancel(one(a) for a in names)
        self._translated = True
        ctx.event(iteration, "meta_language", {"language": self.s.meta_language, "templates": done})

    def failures(self, ctx: RunContext, iteration: int, current: Candidate) -> list:
        chosen, fell_back = transfer_failures(
            ctx.failures(current), self.source_right, self.s.min_transfer_failures
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
