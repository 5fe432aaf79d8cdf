"""APE, after Zhou et al. 2022, "Large Language Models Are Human-Level Prompt Engineers"
(arXiv 2211.01910).

Instruction induction, then selection. The first step shows the optimizer model a few
question/answer demonstrations (a different seeded subset each time) and asks which
instruction would produce those answers, many times; every proposal is scored on a small seeded
subset of the training set, and the best few are scored on the whole set. Later steps are the
paper's iterative Monte Carlo search: variations of the best prompts so far, selected the same
way. The initial prompt is not shown to the proposer (APE induces from demonstrations only); it
is scored like every run's, so best-on-train can keep it.

Paper against ours (parameter: paper → ours):
- proposals (first step): 50 → `candidates` = 20 (a budget of hundreds of task calls, not
  thousands)
- demonstrations per proposal: 5 → `demos` = 5
- proposal temperature: 0.9 (we read) → `temperature` = 0.9
- selection: score on a training subset, keep the best → `eval_examples` = 10, keep `keep` = 3,
  scored on the whole set
- iterative search: variations of the top prompts → `variants` = 3 per kept prompt in steps ≥ 2
- answer format in the meta-prompt: no → yes (a prompt that asks for the wrong format scores 0)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..scoring import Record
from .base import (
    BaseOptimizer,
    Candidate,
    RunContext,
    best_of,
    fresh,
    gather_asks,
    group,
    section,
    template,
)
from .parsing import parse_strict


@dataclass
class APESettings:
    candidates: int = 20
    demos: int = 5
    temperature: float = 0.9
    eval_examples: int = 10
    keep: int = 3
    variants: int = 3
    max_tokens: int = 320
    max_retries: int = 1


def subset_score(records: list[Record]) -> float:
    return sum(r.score for r in records) / max(len(records), 1)


class APE(BaseOptimizer):
    name = "ape"
    title = "APE: instructions induced from examples, resampled, kept by a subset score"
    origins = {"proposal": "#54a24b"}
    Settings = APESettings

    def __init__(self, settings: APESettings | None = None, **overrides: object) -> None:
        super().__init__(settings, **overrides)
        self.t_induce = template("ape_induce.txt")
        self.t_resample = template("ape_resample.txt")

    def project(self, n_train: int, iterations: int) -> dict[str, int]:
        s = self.s
        sub = min(s.eval_examples, n_train)
        later = max(iterations - 1, 0)
        return {
            "task_requests": n_train
            + s.candidates * sub
            + s.keep * n_train
            + later * (s.keep * s.variants * sub + s.keep * n_train),
            "optimizer_requests": s.candidates + later * s.keep * s.variants,
        }

    def report_data(self, events: Callable[[str], list[dict]], by_hash: dict) -> list[dict]:
        groups = [
            group(
                f"Iteration {ev['iteration']}: subset scores (proposal index, score)",
                [f"#{i}: {sc:.2f}" for i, sc in ev["data"]["scores"]],
            )
            for ev in events("subset_scores")
        ]
        return [section("APE selection", groups)]

    async def step(self, ctx: RunContext, iteration: int, current: Candidate) -> Candidate | None:
        if iteration == 1:
            written = await gather_asks(
                self._induce(ctx, iteration, i) for i in range(self.s.candidates)
            )
            parents: list[str] = []
        else:
            tops = [c for c in ctx.ranked() if c.origin != "initial"][: self.s.keep]
            tops = tops or ctx.ranked()[:1]
            jobs = [(p, j) for p in tops for j in range(self.s.variants)]
            written = await gather_asks(
                self._resample(ctx, iteration, p, j, k) for k, (p, j) in enumerate(jobs)
            )
            parents = [p.hash for p in tops]
        kept = [w for w in written if w is not None]
        return await self._select(ctx, iteration, kept, parents) or current

    async def _induce(self, ctx: RunContext, it: int, i: int) -> tuple[int, str | None, str]:
        s = self.s
        demos = ctx.rng("demos", it, i).sample(ctx.train, min(s.demos, len(ctx.train)))
        shown = "\n\n".join(
            f"Question:\n{ctx.task.render(e)}\nCorrect answer: {e.target}" for e in demos
        )
        fields = {"demos": shown, "answer_format": ctx.task.answer_format()}
        text, raw = await ctx.ask_parsed(
            self.t_induce,
            fields,
            parse_strict,
            temperature=s.temperature,
            max_tokens=s.max_tokens,
            label=("ape-induce", it, i),
            retries=s.max_retries,
            stop=("</prompt>",),
        )
        return i, text, raw

    async def _resample(
        self, ctx: RunContext, it: int, parent: Candidate, j: int, k: int
    ) -> tuple[int, str | None, str]:
        text, raw = await ctx.ask_parsed(
            self.t_resample,
            {"prompt": parent.text},
            parse_strict,
            temperature=self.s.temperature,
            max_tokens=self.s.max_tokens,
            label=("ape-resample", it, parent.hash, j),
            retries=self.s.max_retries,
            stop=("</prompt>",),
        )
        return k, text, raw

    async def _select(
        self,
        ctx: RunContext,
        it: int,
        written: list[tuple[int, str | None, str]],
        parents: list[str],
    ) -> Candidate | None:
        """Score every new proposal on one seeded subset (the same for all, so they compare
        fairly), then the best `keep` on the whole training set."""
        s = self.s
        sub = ctx.rng("eval-subset", it).sample(ctx.train, min(s.eval_examples, len(ctx.train)))
        rough: list[tuple[float, int, str]] = []
        for i, text in fresh(ctx, it, written, "proposal"):
            recs = await ctx.evaluate(
                text, sub, origin="proposal", iteration=it, parents=parents, meta={"index": i}
            )
            rough.append((subset_score(recs), i, text))
        rough.sort(key=lambda r: (-r[0], r[1]))
        ctx.event(it, "subset_scores", {"scores": [[i, sc] for sc, i, _ in rough]})
        kept = []
        for sc, i, text in rough[: s.keep]:
            kept.append(
                await ctx.score(
                    text,
                    origin="proposal",
                    iteration=it,
                    parents=parents,
                    meta={"index": i, "subset_score": sc},
                )
            )
        return best_of(kept)
