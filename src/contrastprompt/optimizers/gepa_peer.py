"""GEPA as a peer (Agrawal et al. 2025, "GEPA: Reflective Prompt Evolution Can Outperform
Reinforcement Learning"), run through the `gepa` library itself (extra `gepa`), not a
re-implementation: its own reflective mutation, Pareto candidate selection and meta-prompt.

The adapter puts GEPA on our task, split, LLM layer, cache, store and budget:
- GEPA's trainset and valset are both our training examples (an optimizer never sees the test
  split); GEPA's `evaluate` is `ctx.evaluate`, so each evaluation is stored, cached, resumed
  and counted against `--budget` like every other method's;
- its metric-call budget is ours (GEPA counts a repeated evaluation again, we do not, so it
  never overspends ours); our other limits stop it through a GEPA stop callback;
- its reflection model is our optimizer model through `ctx.ask` (cached, counted, seeded);
- every candidate GEPA scored on its whole valset (= our training set) joins the pool, so
  best-on-train is chosen by the same rule as for every method.
GEPA runs its whole loop in the first step (in a worker thread that hands each request back to
the event loop); there is no second step.

Paper/library against ours (parameter: GEPA → ours):
- reflection minibatch: 3 → `minibatch` = 3
- candidate selection: pareto → `candidate_selection` = "pareto"
- merge: off by default → `use_merge` = False
- budget: max_metric_calls → `--budget` (else `max_metric_calls` = 20 × |train|). Not what is
  left of it: GEPA starts from the seed again when a run resumes, and counts every evaluation
  the store hands back, so a budget shrunk by the calls made before the interruption stopped a
  resumed GEPA short (seen in the bench: 176 of 165 metric calls after a resume)
- reflection prompt: GEPA's own → GEPA's own (the feedback we give per example: the reply, the
  answer read from it, the correct answer, right or wrong)
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from ..data.task import Example
from ..errors import UserError
from ..scoring import Record
from ..store import prompt_hash
from .base import BaseOptimizer, Candidate, RunContext, StopRun, TaskBudget, best_of, template

T = TypeVar("T")
COMPONENT = "instruction"


@dataclass
class GEPASettings:
    minibatch: int = 3
    candidate_selection: str = "pareto"
    use_merge: bool = False
    max_metric_calls: int | None = None  # only when no --budget is given
    reflection_temperature: float = 1.0
    reflection_max_tokens: int = 800


class _Adapter:
    """GEPA's adapter protocol onto a RunContext; called from GEPA's worker thread."""

    def __init__(self, ctx: RunContext, loop: asyncio.AbstractEventLoop) -> None:
        self.ctx, self.loop = ctx, loop
        self.propose_new_texts = None
        self.stopped = ""  # set when one of our limits refused an evaluation
        self.lines: list[str] = []  # GEPA's log, kept for the run's events instead of stdout

    def log(self, message: str) -> None:
        self.lines.append(str(message)[:500])

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def evaluate(self, batch: list[Example], candidate: dict[str, str], capture_traces=False):  # noqa: ANN001, ANN201
        from gepa.core.adapter import EvaluationBatch

        try:
            recs = self.call(
                self.ctx.evaluate(candidate[COMPONENT], list(batch), origin="gepa", iteration=1)
            )
        except StopRun as stop:
            # GEPA checks its metric budget between iterations and may overshoot it by one;
            # ours is exact. Give GEPA zeros (this candidate cannot win) and stop it at its
            # next check; candidates not scored on all of train stay out of the pool.
            self.stopped = stop.reason
            empty = [0.0] * len(batch)
            return EvaluationBatch(
                outputs=[""] * len(batch),
                scores=empty,
                trajectories=[None] * len(batch) if capture_traces else None,
            )
        return EvaluationBatch(
            outputs=[r.output for r in recs],
            scores=[r.score for r in recs],
            trajectories=recs if capture_traces else None,
        )

    def make_reflective_dataset(
        self, candidate: dict[str, str], eval_batch: Any, components_to_update: list[str]
    ) -> Mapping[str, Sequence[Mapping[str, Any]]]:
        rows = [feedback(r) for r in eval_batch.trajectories or [] if r is not None]
        return {c: rows for c in components_to_update}


def feedback(rec: Record) -> dict[str, Any]:
    verdict = "right" if rec.correct else "wrong"
    return {
        "Inputs": rec.input,
        "Generated Outputs": rec.output,
        "Feedback": f"The answer read from the reply: {rec.extracted or '(none found)'}. "
        f"The correct answer: {rec.target}. Scored as {verdict}.",
    }


def _gepa() -> Any:
    """The gepa library, or one line saying how to install it."""
    try:
        import gepa
    except ImportError:
        raise UserError(
            "the gepa method needs the gepa library",
            field="--method",
            hint="pip install 'contrastprompt[gepa]'",
        ) from None
    return gepa


class GEPAPeer(BaseOptimizer):
    name = "gepa"
    title = "GEPA (its own library): reflective prompt evolution with a Pareto pool"
    origins = {"gepa": "#72b7b2"}
    Settings = GEPASettings

    def __init__(self, settings: GEPASettings | None = None, **overrides: object) -> None:
        super().__init__(settings, **overrides)
        self.t_pass = template("gepa_passthrough.txt")
        self.finished = False
        self.why = ""

    def project(self, n_train: int, iterations: int) -> dict[str, int]:
        calls = self.s.max_metric_calls or 20 * n_train
        return {"task_requests": n_train + calls, "optimizer_requests": calls // (2 * n_train)}

    def _metric_budget(self, ctx: RunContext) -> int:
        budget = ctx.limit(TaskBudget)
        if budget is not None:  # the seed's valset evaluation is in both counts: GEPA's and ours
            return budget
        return self.s.max_metric_calls or 20 * len(ctx.train)

    async def step(self, ctx: RunContext, iteration: int, current: Candidate) -> Candidate | None:
        if self.finished:
            return None
        gepa = _gepa()
        loop = asyncio.get_running_loop()
        adapter = _Adapter(ctx, loop)
        asked = [0]

        def reflect(prompt: str | list[dict[str, Any]]) -> str:
            text = prompt if isinstance(prompt, str) else "\n\n".join(m["content"] for m in prompt)
            asked[0] += 1
            resp = adapter.call(
                ctx.ask(
                    self.t_pass,
                    {"prompt": text},
                    temperature=self.s.reflection_temperature,
                    max_tokens=self.s.reflection_max_tokens,
                    label=("gepa-reflect", asked[0]),
                )
            )
            return resp.text

        def must_stop(_state: Any) -> bool:
            if adapter.stopped:
                self.why = adapter.stopped
                return True
            try:
                ctx.check("ask")
            except StopRun as stop:
                self.why = stop.reason
                return True
            return False

        budget = self._metric_budget(ctx)
        result = await asyncio.to_thread(
            lambda: gepa.optimize(
                seed_candidate={COMPONENT: current.text},
                trainset=list(ctx.train),
                valset=list(ctx.train),
                adapter=adapter,
                reflection_lm=reflect,
                candidate_selection_strategy=self.s.candidate_selection,
                reflection_minibatch_size=self.s.minibatch,
                use_merge=self.s.use_merge,
                max_metric_calls=budget,
                stop_callbacks=[must_stop],
                seed=ctx.seed,
                display_progress_bar=False,
                logger=adapter,
                raise_on_exception=True,
            )
        )
        self.finished = True
        self.why = self.why or f"gepa: {result.total_metric_calls} of {budget} metric calls used"
        ctx.event(
            iteration,
            "gepa",
            {"candidates": len(result.candidates), "why": self.why, "log": adapter.lines[-200:]},
        )
        pool = []
        for i, cand in enumerate(result.candidates):
            h = prompt_hash(cand[COMPONENT])
            if len(ctx.store.records(ctx.run_id, h, "train")) < len(ctx.train):
                continue  # refused by our budget before GEPA scored it on all of train
            pool.append(
                await ctx.score(
                    cand[COMPONENT],
                    origin="gepa",
                    iteration=iteration,
                    parents=[],
                    meta={"gepa_index": i, "parents": result.parents[i]},
                )
            )
        return best_of(pool) or current
