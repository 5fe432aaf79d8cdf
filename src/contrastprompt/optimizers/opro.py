"""OPRO, after Yang et al. 2023, "Large Language Models as Optimizers" (arXiv 2309.03409).

Each step shows the optimizer model the best instructions found so far with their training
accuracy, in ascending order (the best last, nearest the request), and a few question/answer
exemplars, and samples several new instructions at temperature 1. Each is scored on the whole
training set and joins the trajectory. There is no "current" prompt to edit: the trajectory is
the state.

Paper against ours (parameter: paper → ours):
- instructions in the meta-prompt: top 20 → `max_history` = 20
- order: ascending score → same
- score shown: accuracy, integer 0–100 → same
- exemplars per step: 3, random → `exemplars` = 3, seeded per step
- proposals per step: 8 → `candidates` = 8
- sampling temperature: 1.0 → `temperature` = 1.0
- scored on: the training split → the training split
- steps: up to 200 → until `--iterations` or the budget
- answer format in the meta-prompt: no → yes (a prompt that asks for the wrong format scores 0)

The meta-prompt is ours. The step returns its best new instruction as the "last" prompt.
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import (
    BaseOptimizer,
    Candidate,
    RunContext,
    best_of,
    gather_asks,
    score_new,
    template,
)
from .parsing import parse_strict


@dataclass
class OPROSettings:
    candidates: int = 8
    max_history: int = 20
    exemplars: int = 3
    temperature: float = 1.0
    max_tokens: int = 320
    max_retries: int = 1


class OPRO(BaseOptimizer):
    name = "opro"
    title = "OPRO: new prompts from the past prompts and their scores, as a trajectory"
    origins = {"proposal": "#54a24b"}
    Settings = OPROSettings

    def __init__(self, settings: OPROSettings | None = None, **overrides: object) -> None:
        super().__init__(settings, **overrides)
        self.t_meta = template("opro.txt")

    def project(self, n_train: int, iterations: int) -> dict[str, int]:
        s = self.s
        return {
            "task_requests": n_train * (1 + iterations * s.candidates),
            "optimizer_requests": iterations * s.candidates,
        }

    def trajectory(self, ctx: RunContext) -> list[Candidate]:
        """The top `max_history` of the pool, worst first."""
        return list(reversed(ctx.ranked()[: self.s.max_history]))

    async def step(self, ctx: RunContext, iteration: int, current: Candidate) -> Candidate | None:
        s = self.s
        shown = self.trajectory(ctx)
        traj = "\n\n".join(
            f"<prompt>\n{c.text}\n</prompt>\nscore: {round(100 * c.score)}" for c in shown
        )
        picks = ctx.rng("exemplars", iteration).sample(ctx.train, min(s.exemplars, len(ctx.train)))
        exemplars = "\n\n".join(
            f"Question:\n{ctx.task.render(e)}\nCorrect answer: {e.target}" for e in picks
        )
        fields = {
            "trajectory": traj,
            "exemplars": exemplars,
            "answer_format": ctx.task.answer_format(),
        }
        ctx.event(iteration, "trajectory", {"shown": [[c.hash, c.score] for c in shown]})

        async def propose(i: int) -> tuple[int, str | None, str]:
            text, raw = await ctx.ask_parsed(
                self.t_meta,
                fields,
                parse_strict,
                temperature=s.temperature,
                max_tokens=s.max_tokens,
                label=("opro", iteration, i),
                retries=s.max_retries,
                stop=("</prompt>",),
            )
            return i, text, raw

        written = [
            w for w in await gather_asks(propose(i) for i in range(s.candidates)) if w is not None
        ]
        parents = [c.hash for c in shown]
        new = await score_new(ctx, iteration, written, origin="proposal", parents=parents)
        return best_of(new) or current
