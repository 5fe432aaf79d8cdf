"""APO / ProTeGi, after Pryzant et al. 2023, "Automatic Prompt Optimization with 'Gradient
Descent' and Beam Search" (arXiv 2305.03495).

One step, for every prompt in the beam:
  1. evaluate it on a seeded minibatch of the training set and take a group of its errors;
  2. ask for several "textual gradients": problems of the prompt that explain those errors;
  3. per gradient, ask for an edited prompt that fixes the problem, then for Monte Carlo
     paraphrases of each edit ("successors"); sample at most `max_expansion` successors;
then choose the next beam among the old beam and all successors with a UCB bandit: each pull
scores an arm on a few more training examples it has not seen, and the arms with the highest
estimated accuracy form the new beam. The best of the beam is scored on the whole training set,
joins the pool and is the step's "last" prompt; the rest of the beam lives only in the search.

Paper against ours (parameter: paper → ours):
- beam size b: 4 → `beam_size` = 4
- minibatch: 64 → `minibatch` = 64 (capped by the training set)
- errors per gradient group: 4 → `errors_per_gradient` = 4
- gradients per group m: 4 → `gradients` = 4
- edits per gradient: 1 → `edits_per_gradient` = 1
- Monte Carlo paraphrases p: 2 per edit → `paraphrases` = 2
- successors per parent: 8, sampled → `max_expansion` = 8
- selection: UCB bandit (also successive rejects) → UCB, `bandit_rounds` = 4 rounds of `beam_size`
  pulls of `bandit_sample` = 8 examples, `exploration` c = 1.0, after one first pull of every arm
- steps: 6 → until `--iterations` or the budget
- answer format in the edit request: no → yes (a prompt that asks for the wrong format scores 0)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from ..scoring import Record
from .base import (
    BaseOptimizer,
    Candidate,
    RunContext,
    StopRun,
    gather_asks,
    group,
    section,
    template,
)
from .parsing import all_tagged, parse_strict


@dataclass
class APOSettings:
    beam_size: int = 4
    minibatch: int = 64
    errors_per_gradient: int = 4
    gradients: int = 4
    edits_per_gradient: int = 1
    paraphrases: int = 2
    max_expansion: int = 8
    bandit_rounds: int = 4
    bandit_sample: int = 8
    exploration: float = 1.0
    gradient_temperature: float = 0.0
    edit_temperature: float = 0.7
    paraphrase_temperature: float = 0.7
    max_tokens: int = 320
    shown_errors_chars: int = 300
    max_retries: int = 1


@dataclass
class Arm:
    """A prompt under selection, with what the bandit has seen of it."""

    text: str
    records: dict[str, Record]
    parent: str = ""

    @property
    def mean(self) -> float:
        return sum(r.score for r in self.records.values()) / max(len(self.records), 1)


def ucb(arm: Arm, total_pulls: int, c: float) -> float:
    """Upper confidence bound of an arm's accuracy (UCB1, counted in examples)."""
    n = max(len(arm.records), 1)
    return arm.mean + c * math.sqrt(2 * math.log(max(total_pulls, 2)) / n)


class APO(BaseOptimizer):
    name = "apo"
    title = "APO (ProTeGi): textual gradients from errors, edits, beam search with a bandit"
    origins = {"edit": "#f58518", "beam": "#b279a2"}
    Settings = APOSettings

    def __init__(self, settings: APOSettings | None = None, **overrides: object) -> None:
        super().__init__(settings, **overrides)
        self.t_gradient = template("apo_gradient.txt")
        self.t_edit = template("apo_edit.txt")
        self.t_paraphrase = template("apo_paraphrase.txt")
        self.beam: list[str] = []

    def project(self, n_train: int, iterations: int) -> dict[str, int]:
        s = self.s
        per_parent = 1 + s.gradients * s.edits_per_gradient * (1 + s.paraphrases)
        arms = s.beam_size * (1 + s.max_expansion)
        pulls = arms + s.bandit_rounds * s.beam_size
        return {
            "task_requests": n_train
            + iterations
            * (s.beam_size * min(s.minibatch, n_train) + pulls * s.bandit_sample + n_train),
            "optimizer_requests": iterations * s.beam_size * per_parent,
        }

    def report_data(self, events: Callable[[str], list[dict]], by_hash: dict) -> list[dict]:
        groups = [
            group(f"Iteration {ev['iteration']}: textual gradients", ev["data"]["gradients"])
            for ev in events("gradients")
        ]
        groups += [
            group(
                f"Iteration {ev['iteration']}: bandit estimates (accuracy, examples pulled)",
                [f"{m:.2f} on {n}: {t}" for t, m, n in ev["data"]["estimates"]],
            )
            for ev in events("beam")
        ]
        return [section("APO steps", groups)]

    async def step(self, ctx: RunContext, iteration: int, current: Candidate) -> Candidate | None:
        beam = self.beam or [current.text]
        grown = [g or [] for g in await gather_asks(self._expand(ctx, iteration, p) for p in beam)]
        arms: dict[str, Arm] = {p: Arm(p, {}) for p in beam}
        for parent, successors in zip(beam, grown, strict=True):
            for text in successors:
                arms.setdefault(text, Arm(text, {}, parent))
        ctx.event(iteration, "expanded", {"beam": len(beam), "arms": len(arms)})
        ranked = await self._bandit(ctx, iteration, list(arms.values()))
        self.beam = [a.text for a in ranked[: self.s.beam_size]]
        top = ranked[0]
        ctx.event(
            iteration,
            "beam",
            {"estimates": [[a.text[:200], a.mean, len(a.records)] for a in ranked]},
        )
        return await ctx.score(
            top.text,
            origin="edit" if top.parent else "beam",
            iteration=iteration,
            parents=[top.parent] if top.parent else [],
            meta={"estimate": top.mean, "pulled": len(top.records)},
        )

    async def _expand(self, ctx: RunContext, it: int, prompt: str) -> list[str]:
        """Gradients from a minibatch's errors, one edit per gradient, paraphrases of each."""
        s = self.s
        batch = ctx.rng("minibatch", it, prompt).sample(ctx.train, min(s.minibatch, len(ctx.train)))
        recs = await ctx.evaluate(prompt, batch, origin="beam", iteration=it)
        errors = [r for r in recs if not r.correct]
        if not errors:
            return []
        group = ctx.rng("errors", it, prompt).sample(
            errors, min(s.errors_per_gradient, len(errors))
        )
        shown = "\n\n".join(
            f"Question:\n{r.input}\nThe model replied: {r.output[: s.shown_errors_chars]}\n"
            f"Correct answer: {r.target}"
            for r in group
        )
        resp = await ctx.ask(
            self.t_gradient,
            {"prompt": prompt, "errors": shown, "gradients": s.gradients},
            temperature=s.gradient_temperature,
            max_tokens=s.max_tokens,
            label=("gradient", it, prompt),
        )
        gradients = all_tagged(resp.text, "problem")[: s.gradients]
        ctx.event(it, "gradients", {"gradients": gradients})
        fields = {"prompt": prompt, "errors": shown, "answer_format": ctx.task.answer_format()}
        jobs = [(g, e) for g in range(len(gradients)) for e in range(s.edits_per_gradient)]

        async def edit(g: int, e: int) -> str | None:
            text, _ = await ctx.ask_parsed(
                self.t_edit,
                {**fields, "problem": gradients[g]},
                parse_strict,
                temperature=s.edit_temperature,
                max_tokens=s.max_tokens,
                label=("edit", it, prompt, g, e),
                retries=s.max_retries,
                stop=("</prompt>",),
            )
            return text

        edits = [t for t in await gather_asks(edit(g, e) for g, e in jobs) if t]

        async def paraphrase(text: str, k: int) -> str | None:
            out, _ = await ctx.ask_parsed(
                self.t_paraphrase,
                {"prompt": text},
                parse_strict,
                temperature=s.paraphrase_temperature,
                max_tokens=s.max_tokens,
                label=("paraphrase", it, text, k),
                retries=s.max_retries,
                stop=("</prompt>",),
            )
            return out

        try:
            paras = (
                await gather_asks(paraphrase(t, k) for t in edits for k in range(s.paraphrases))
                if edits and s.paraphrases
                else []
            )
        except StopRun:  # the cap came before any paraphrase: the edits still go to the bandit
            paras = []
        successors = list(dict.fromkeys([*edits, *(p for p in paras if p)]))
        successors = [t for t in successors if t.strip() != prompt.strip()]
        if len(successors) > s.max_expansion:
            successors = ctx.rng("expansion", it, prompt).sample(successors, s.max_expansion)
        return successors

    async def _bandit(self, ctx: RunContext, it: int, arms: list[Arm]) -> list[Arm]:
        """UCB best-arm search: one pull of every arm, then `bandit_rounds` rounds that pull the
        `beam_size` arms with the highest upper bound. Returns the arms by estimated accuracy."""
        s, n = self.s, len(ctx.train)
        order = {a.text: ctx.rng("bandit-order", a.text).sample(ctx.train, n) for a in arms}

        async def pull(arm: Arm) -> None:
            fresh = [e for e in order[arm.text] if e.id not in arm.records][: s.bandit_sample]
            if fresh:
                origin = "edit" if arm.parent else "beam"
                recs = await ctx.evaluate(arm.text, fresh, origin=origin, iteration=it)
                arm.records.update({r.example_id: r for r in recs})

        for arm in arms:
            await pull(arm)
        for _ in range(s.bandit_rounds):
            total = sum(len(a.records) for a in arms)
            open_arms = [a for a in arms if len(a.records) < n]
            chosen = sorted(open_arms, key=lambda a: -ucb(a, total, s.exploration))[: s.beam_size]
            if not chosen:
                break
            for arm in chosen:
                await pull(arm)
        return sorted(arms, key=lambda a: (-a.mean, arms.index(a)))
