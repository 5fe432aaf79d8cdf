"""The loop every optimizer runs in: score the initial prompt, step until a stop condition."""

from __future__ import annotations

from dataclasses import dataclass

from .context import Candidate, Optimizer, RunContext
from .stoppers import StopRun


@dataclass
class LoopOutcome:
    initial: Candidate | None
    last: Candidate | None
    stop_reason: str
    iterations_done: int


async def run_loop(
    optimizer: Optimizer,
    ctx: RunContext,
    initial_prompt: str,
    *,
    iterations: int,
    patience: int | None = None,
) -> LoopOutcome:
    """Run up to `iterations` steps. A budget or stop condition ends the run between units of
    work (never in the middle of scoring a prompt); what was scored stays in the pool."""
    initial = last = None
    done = 0
    try:
        start = optimizer.start(initial_prompt)
        initial = last = await ctx.score(start, origin="initial", iteration=0)
        if optimizer.fixed:
            return LoopOutcome(initial, last, f"{optimizer.name} is a fixed prompt", 0)
        if not ctx.failures(initial):
            return LoopOutcome(
                initial, last, "the initial prompt is already perfect on the training set", 0
            )
        best, stale = ctx.best().score, 0
        for t in range(1, iterations + 1):
            ctx.event(t, "iteration", {"current": last.hash, "best": ctx.best().score})
            nxt = await optimizer.step(ctx, t, last)
            if nxt is None:
                why = optimizer.why or "no failures left on the training set"
                return LoopOutcome(initial, last, why, done)
            last, done = nxt, t
            if not ctx.failures(ctx.best()):
                return LoopOutcome(initial, last, "a prompt is perfect on the training set", done)
            if ctx.best().score > best:
                best, stale = ctx.best().score, 0
            else:
                stale += 1
                if patience and stale >= patience:
                    return LoopOutcome(
                        initial, last, f"patience: no gain in {stale} iterations", done
                    )
        return LoopOutcome(initial, last, f"iterations: all {iterations} done", done)
    except StopRun as stop:
        return LoopOutcome(initial, last, stop.reason, done)
