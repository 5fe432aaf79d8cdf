"""The loop every optimizer runs in: score the initial prompt, step until a stop condition; and
how it ended, kept in the store so that a later process on the run dir does not run it again."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
    work (never in the middle of scoring a prompt); what was scored stays in the pool. The last
    prompt is what the last step returned, or, for a step a stop cut short, `cut_last`."""
    initial = last = None
    done = 0
    ctx.iterations = iterations
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
            before = ctx.last_scored
            try:
                nxt = await optimizer.step(ctx, t, last)
            except StopRun as stop:
                return LoopOutcome(initial, cut_last(ctx, before, last), stop.reason, done)
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
    except StopRun as stop:  # while scoring the initial prompt
        return LoopOutcome(initial, last, stop.reason, done)


def cut_last(ctx: RunContext, before: Candidate | None, current: Candidate) -> Candidate:
    """The last prompt of a run whose step a stop condition cut short: the step never returns
    its pick, so the last prompt is the one the step scored last on the whole training set, the
    same rule for every method (a prompt tried on a minibatch only was not scored); the prompt
    the step started from when it scored none. Without this, a method whose step is cut by the
    task budget (OPRO, APE) would report its initial prompt as its last."""
    now = ctx.last_scored
    return now if now is not None and now is not before else current


LOOP_END = "loop_end"


def record_end(ctx: RunContext, outcome: LoopOutcome, limits: dict[str, Any]) -> None:
    """Keep how the loop ended, and under which limits, in the run's store. Replaying a
    finished loop is not a safe way to find its end again: code changed since (a parser that
    reads the optimizer's answers differently) takes another path, meets the budget the first
    process spent, and stops with the wrong last prompt."""
    if outcome.initial is None:
        return
    end = {
        "initial": outcome.initial.hash,
        "last": (outcome.last or outcome.initial).hash,
        "stop_reason": outcome.stop_reason,
        "iterations_done": outcome.iterations_done,
        "limits": limits,
    }
    ctx.store.set_state(ctx.run_id, LOOP_END, end)


def recorded_end(
    ctx: RunContext, limits: dict[str, Any], kept: dict[str, Any] | None = None
) -> LoopOutcome | None:
    """The end an earlier process's loop reached under the same limits, with its prompts
    taken from the store; None when the loop has to run (no end recorded, other limits: a
    larger budget runs on). `kept`: the end as run.json records it, for a store made before
    the store kept it. An end recorded before `cut_last` existed reads back as recorded: where
    a stop cut a step, its last prompt is the one that step started from."""
    end = ctx.store.get_state(ctx.run_id, LOOP_END) or kept
    if not end or end.get("limits") != limits:
        return None
    scored = {e["data"]["hash"] for e in ctx.store.events(ctx.run_id, "scored")}
    if not {end["initial"], end["last"]} <= scored:
        return None
    ctx.adopt_stored("restored")
    initial, last = ctx.candidate(end["initial"]), ctx.candidate(end["last"])
    if initial is None or last is None:
        return None
    return LoopOutcome(initial, last, end["stop_reason"], int(end.get("iterations_done", 0)))
