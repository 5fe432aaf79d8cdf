"""AutoHint, after Sun et al. 2023, "AutoHint: Automatic Prompt Optimization with Hint
Generation" (arXiv 2307.07415).

Each step takes the current prompt's wrong training answers, samples some, asks the optimizer
model for one hint per sample (what would have led to the right answer), then asks it to
summarize those hints into one paragraph, which is added to the initial prompt. The next step's
hints are summarized together with the current hint paragraph, so the prompt is always the
initial prompt plus one merged paragraph (the paper adds the summary to the initial prompt; it
does not say how hints from several rounds combine, and unbounded appending would make later
prompts ever longer).

Paper against ours (parameter: paper → ours):
- sampling of wrong answers: random (also clustering, shuffled) → random, seeded: `samples` = 10
- hint per sample: one request each → same, `hint_temperature` = 0
- summary: one request → same, `summary_temperature` = 0
- where the hint goes: appended to the initial prompt → same
- rounds: a few → until `--iterations` or the budget
- answer format: not mentioned → the summary must not contradict it
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .base import (
    BaseOptimizer,
    Candidate,
    RunContext,
    gather_asks,
    group,
    section,
    template,
)
from .parsing import tagged, usable_prompt


@dataclass
class AutoHintSettings:
    samples: int = 10
    hint_temperature: float = 0.0
    summary_temperature: float = 0.0
    hint_max_tokens: int = 160
    summary_max_tokens: int = 240
    shown_output_chars: int = 400
    max_retries: int = 2


def parse_hint(output: str) -> str | None:
    found = tagged(output, "hint") or output
    return usable_prompt(" ".join(found.split()))


class AutoHint(BaseOptimizer):
    name = "autohint"
    title = "AutoHint: hints from wrong answers, summarized and appended to the prompt"
    origins = {"hinted": "#9d755d"}
    Settings = AutoHintSettings

    def __init__(self, settings: AutoHintSettings | None = None, **overrides: object) -> None:
        super().__init__(settings, **overrides)
        self.t_hint = template("autohint_hint.txt")
        self.t_summary = template("autohint_summary.txt")

    def project(self, n_train: int, iterations: int) -> dict[str, int]:
        return {
            "task_requests": n_train * (1 + iterations),
            "optimizer_requests": iterations * (min(self.s.samples, n_train) + 1),
        }

    def report_data(self, events: Callable[[str], list[dict]], by_hash: dict) -> list[dict]:
        groups = [
            group(f"Iteration {ev['iteration']}: hints", ev["data"]["hints"])
            for ev in events("hints")
        ]
        return [section("AutoHint steps", groups)]

    async def step(self, ctx: RunContext, iteration: int, current: Candidate) -> Candidate | None:
        s = self.s
        failures = ctx.failures(current)
        if not failures:
            return None
        base = current.meta.get("base", current.text)
        previous = current.meta.get("hint", "")
        chosen = ctx.rng("samples", iteration).sample(failures, min(s.samples, len(failures)))

        async def hint(rec) -> str | None:  # noqa: ANN001
            fields = {
                "prompt": current.text,
                "input": rec.input,
                "output": rec.output[: s.shown_output_chars] or "(empty)",
                "target": rec.target,
            }
            text, _ = await ctx.ask_parsed(
                self.t_hint,
                fields,
                parse_hint,
                temperature=s.hint_temperature,
                max_tokens=s.hint_max_tokens,
                label=("hint", iteration, current.hash, rec.example_id),
                retries=s.max_retries,
                retry_temperature=0.7,
                stop=("</hint>",),
            )
            return text

        hints = [h for h in await gather_asks(hint(r) for r in chosen) if h]
        ctx.event(iteration, "hints", {"prompt": current.hash, "hints": hints})
        if not hints:
            ctx.event(iteration, "skipped", {"step": "summary", "why": "no usable hints"})
            return current
        listed = "\n".join(f"- {h}" for h in ([previous] if previous else []) + hints)
        summary, raw = await ctx.ask_parsed(
            self.t_summary,
            {"hints": listed, "answer_format": ctx.task.answer_format()},
            parse_hint,
            temperature=s.summary_temperature,
            max_tokens=s.summary_max_tokens,
            label=("summary", iteration, current.hash),
            retries=s.max_retries,
            retry_temperature=0.7,
            stop=("</hint>",),
        )
        if summary is None:
            ctx.event(iteration, "skipped", {"step": "summary", "raw": raw[:500]})
            return current
        return await ctx.score(
            f"{base.rstrip()}\n\nHint: {summary}",
            origin="hinted",
            iteration=iteration,
            parents=[current.hash],
            meta={"base": base, "hint": summary, "hints": len(hints)},
        )
