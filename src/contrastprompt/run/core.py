"""The run core: one optimization run from a spec to a result, in a durable run dir.

The run dir holds the SQLite store and a response cache of its own, so executing the same spec
on the same dir resumes: stored evaluations are reused and optimizer requests hit the cache, and
with the same seed the run ends with the same prompts as one that was never interrupted.
optimize, adapt and bench all run here; they differ only in the spec they build.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..data.task import Example, Task, take
from ..errors import UserError
from ..llm import LLM, Backend, ModelHub, ResponseCache, canonical_model, model_name
from ..llm.catalogue import request_seconds
from ..llm.usage import price_for
from ..scoring import EvalResult, evaluate_async
from ..store import Store, prompt_hash
from .context import Candidate, EventHook, Optimizer, RunContext
from .loop import LoopOutcome, record_end, recorded_end, run_loop
from .outputs import (
    OptimizeResult,
    earlier_wall_time,
    kept_loop_end,
    pool_row,
    recorded_json,
    recorded_run,
    write_outputs,
)
from .rundir import data_hash, open_run, scoring_settings, train_ids
from .selection import RULES
from .selection import select as choose
from .session import RunSession
from .stoppers import Budget
from .usage import ROLES, run_usage

Model = str | Backend


@dataclass(frozen=True)
class Split:
    """Which items a run trains and tests on. `seed` None: the run's own seed draws the split,
    so runs of different seeds train and test on different items (giving it fixes one split
    for every seed, which then measure only the optimizer's randomness). `n_val` items are held
    out of both: no run sees them; they exist so that design choices are scored on them
    (`validation`), never on test."""

    seed: int | None = None
    n_train: int | None = None
    test_limit: int | None = None
    n_val: int = 0

    def parts(
        self, task: Task, run_seed: int
    ) -> tuple[list[Example], list[Example], list[Example], str]:
        """(train, validation, test, content hash of all three before the test limit: a limit
        is not new data)."""
        seed = run_seed if self.seed is None else self.seed
        train, val, test = task.split_parts(seed=seed, n_train=self.n_train, n_val=self.n_val)
        content = data_hash(train + test + val, task)
        return train, val, take(test, self.test_limit, seed), content

    def apply(self, task: Task, run_seed: int) -> tuple[list[Example], list[Example], str]:
        """(train, test, content hash): what a run is given; the validation items are not."""
        train, _, test, content = self.parts(task, run_seed)
        return train, test, content

    def validation(self, task: Task, run_seed: int) -> list[Example]:
        """The validation items of the run's split (empty when `n_val` is 0)."""
        return self.parts(task, run_seed)[1]


@dataclass
class RunSpec:
    """Everything one run needs, already resolved: a task object, an optimizer object, models."""

    task: Task
    prompt: str
    optimizer: Optimizer
    model: Model = "local"
    optimizer_model: Model = "local"
    run_dir: Path | None = None
    seed: int = 0
    split: Split = field(default_factory=Split)
    budget: Budget = field(default_factory=Budget)
    iterations: int = 3
    placement: str = "user"
    failure_threshold: float = 1.0
    select: str = "best"
    selection_alpha: float = 0.1
    evaluate_test: bool = True
    force: bool = False
    base_url: str | None = None
    concurrency: int | None = None
    cache_path: Path | None = None
    on_event: EventHook | None = None
    extra_settings: dict[str, Any] = field(default_factory=dict)

    def check(self, n_train: int) -> None:
        """Refuse options that cannot work before anything is started or stored."""
        if not self.prompt or not self.prompt.strip():
            raise UserError("the initial prompt is empty", field="--prompt")
        if self.iterations < 1:
            raise UserError(f"must be at least 1, got {self.iterations}", field="--iterations")
        b = self.budget
        if b.task_requests is not None and b.task_requests < n_train:
            raise UserError(
                f"a budget of {b.task_requests} task requests cannot score even the initial "
                f"prompt on {n_train} training examples",
                field="--budget",
            )
        if b.cost is not None:
            models = (self.model, self.optimizer_model)
            unpriced = [
                m for m in models if isinstance(m, str) and price_for(canonical_model(m)) is None
            ]
            if unpriced:
                raise UserError(
                    f"no price is known for {', '.join(unpriced)}, so a cost limit cannot be kept",
                    field="--max-cost",
                    hint="use --max-tokens or --max-optimizer-calls instead",
                )
        if self.select not in RULES:
            raise UserError(
                f"unknown rule '{self.select}'", field="--select", hint="best or paired"
            )
        if self.placement not in ("user", "system"):
            raise UserError(
                f"unknown placement '{self.placement}'",
                field="--prompt-placement",
                hint="user or system",
            )
        own_check = getattr(self.optimizer, "check_limits", None)  # the method's own minimum
        if own_check is not None:
            own_check(n_train, b.task_requests, b.optimizer_calls)

    def settings(self, task: Task, train: list[Example], content: str) -> dict[str, Any]:
        """What the run's fingerprint is made of: a resumed run must agree on all of it."""
        s = {
            "task": task.name,
            "initial_prompt": self.prompt.strip(),
            "model": model_name(self.model),
            "optimizer_model": model_name(self.optimizer_model),
            "method": self.optimizer.name,
            "seed": self.seed,
            "n_train": len(train),
            "train_ids": train_ids(train),
            "placement": self.placement,
            "failure_threshold": self.failure_threshold,
            "method_settings": self.optimizer.settings(),
            "scoring": scoring_settings(task),
            "data_hash": content,
        }
        if self.split.seed is not None:  # only when given: runs made before it keep resuming
            s["split_seed"] = self.split.seed
        if self.split.n_val:  # likewise: a run without validation items keeps its fingerprint
            s["n_val"] = self.split.n_val
        return s | self.extra_settings  # e.g. adaptation's source setting


def project(
    task: Task,
    train: list[Example],
    *,
    optimizer: Optimizer,
    iterations: int,
    budget: int | None,
    model: str,
    optimizer_model: str,
    test_size: int,
    max_optimizer_calls: int | None = None,
) -> dict[str, Any]:
    """A rough forecast before spending anything: requests, tokens, money, time.

    The method forecasts its own requests (every iteration run in full, capped by the budget and
    the optimizer-call limit). Tokens assume ~4 characters a token; time comes from the models'
    measured speeds (`llm.catalogue.request_seconds`; a flat guess for a model without one).
    """
    n = len(train)
    planned = getattr(optimizer, "forecast", None)  # a method that plans around the limits
    own = planned(n, iterations, budget, max_optimizer_calls) if planned else None
    if own is None and budget is not None:  # the iterations the budget can hold
        while iterations > 1 and optimizer.project(n, iterations - 1)["task_requests"] >= budget:
            iterations -= 1
    own = own or optimizer.project(n, iterations)
    task_requests, opt_requests = own["task_requests"], own["optimizer_requests"]
    if budget is not None:
        task_requests = min(task_requests, budget)
    if max_optimizer_calls is not None:
        opt_requests = min(opt_requests, max_optimizer_calls)
    avg_in = sum(len(task.render(e)) for e in train) / max(n, 1) / 4 + 40
    max_out, _ = task.limits()
    task_tokens = int(task_requests * (avg_in + max_out / 2))
    opt_tokens = int(opt_requests * (600 + 200))
    test_requests = test_size * (1 if optimizer.fixed else 3)  # initial, last, best
    cost = None
    pt, po = price_for(model), price_for(optimizer_model)
    if pt is not None and po is not None:
        cost = (task_tokens + test_requests * (avg_in + max_out / 2)) * (
            pt[0] + pt[1]
        ) / 2e6 + opt_tokens * (po[0] + po[1]) / 2e6
    return {
        "plan": own.get("plan", []),
        "task_requests": task_requests,
        "optimizer_requests": opt_requests,
        "test_requests": test_requests,
        "tokens": task_tokens + opt_tokens,
        "cost": cost,
        "time_s": int(
            (task_requests + test_requests) * request_seconds(model, "task")
            + opt_requests * request_seconds(optimizer_model, "optimizer")
        ),
    }


def project_spec(spec: RunSpec) -> dict[str, Any]:
    """`project` for a spec: its task as its method sees it, its split and its limits. Options
    that cannot work are refused first (a projection of -1 iterations would print nonsense)."""
    task = spec.optimizer.adapt_task(spec.task)
    train, test, _ = spec.split.apply(task, spec.seed)
    spec.check(len(train))
    return project(
        task,
        train,
        optimizer=spec.optimizer,
        iterations=spec.iterations,
        budget=spec.budget.task_requests,
        model=str(spec.model),
        optimizer_model=str(spec.optimizer_model),
        test_size=len(test) if spec.evaluate_test else 0,
        max_optimizer_calls=spec.budget.optimizer_calls,
    )


async def score_stored(
    store: Store,
    run_id: int,
    llm: LLM,
    task: Task,
    prompt: str,
    examples: list[Example],
    split: str,
    placement: str,
    seed: int,
    origin: str = "external",
) -> EvalResult:
    """Evaluate with per-example records in the store, so resuming skips what is done."""
    phash = prompt_hash(prompt)
    store.add_prompt(run_id, prompt, origin, -1)
    done = store.records(run_id, phash, split)
    return await evaluate_async(
        prompt,
        examples,
        task,
        llm,
        placement=placement,
        seed=seed,
        done=done,
        on_record=lambda r: store.add_record(run_id, phash, split, r),
    )


def execute(spec: RunSpec) -> OptimizeResult:
    """Run (or resume) `spec` in its run dir and return the initial, last and selected prompts
    with their train and test scores and usage. run.json, the prompts and report.html are
    written at the end."""
    task = spec.optimizer.adapt_task(spec.task)
    train, test, content = spec.split.apply(task, spec.seed)
    spec.check(len(train))
    run_path = spec.run_dir or Path(tempfile.mkdtemp(prefix="contrastprompt-"))
    run_path.mkdir(parents=True, exist_ok=True)
    settings = spec.settings(task, train, content)
    opt = spec.optimizer
    defaults = opt.absent_settings() if hasattr(opt, "s") else {}
    done = (
        None if spec.force else recorded_run(run_path, settings, _limits(spec, len(test)), defaults)
    )
    if done is not None:
        if spec.on_event:
            spec.on_event("read_back", {"path": str(run_path / "run.json")})
        return done
    store, run_id, resumed = open_run(run_path, settings, spec.force, defaults)
    session = RunSession(
        store=store,
        run_id=run_id,
        cache=ResponseCache(spec.cache_path or run_path / "cache.sqlite"),
        models={
            "task": settings["model"],
            "test": settings["model"],
            "optimizer": settings["optimizer_model"],
        },
        base_url=spec.base_url,
        concurrency=spec.concurrency,
        log_dir=run_path,
    )
    started = time.time()
    earlier = recorded_json(run_path, settings, defaults) if resumed else None
    kept = kept_loop_end(earlier, loop_limits(spec))
    run = _Run(spec, task, train, test, store, run_id, resumed, run_path, kept)
    try:
        result = session.run(run.go)
    except BaseException as exc:
        session.stopped(exc)
        session.close()
        raise
    session.close(keep_store=True)
    store.finish_run(run_id, "done", result.stop_reason)
    took = _process_time(session, started, earlier) + earlier_wall_time(earlier)
    limits = _limits(spec, len(test)) | {"wall_time_s": took}
    write_outputs(result, store, run_id, settings, limits, opt)
    store.close()
    return result


def _process_time(session: RunSession, started: float, earlier: dict | None) -> float:
    """Seconds this process adds to the run's wall time: none when it resumed a recorded run
    and reached no model (everything came from the store and the cache), so re-opening a
    finished run leaves its run.json as it was."""
    reached = sum(session.hub.usage.role(r).calls for r in ROLES)
    return 0.0 if earlier is not None and reached == 0 else time.time() - started


def loop_limits(spec: RunSpec) -> dict[str, Any]:
    """The limits that decide where the loop ends: with other ones a resumed run runs its loop
    on (a larger budget); with these, a loop that ended before is not run again."""
    return spec.budget.limits() | {"iterations": spec.iterations}


def _limits(spec: RunSpec, test_size: int) -> dict[str, Any]:
    """What run.json records of the run's limits (besides its wall time)."""
    return spec.budget.limits() | {
        "iterations": spec.iterations,
        "select": spec.select,
        "selection_alpha": spec.selection_alpha,
        "test_size": test_size,
    }


@dataclass
class _Run:
    """One execution of a spec inside the event loop: the loop, then selection and test."""

    spec: RunSpec
    task: Task
    train: list[Example]
    test: list[Example]
    store: Store
    run_id: int
    resumed: bool
    run_path: Path
    kept_end: dict[str, Any] | None = None  # how run.json says the loop ended (older stores)

    async def go(self, hub: ModelHub) -> OptimizeResult:
        s = self.spec
        task_llm = hub.open(s.model, role="task")
        opt_llm = hub.open(s.optimizer_model, role="optimizer")
        ctx = RunContext(
            task=self.task.restricted(self.train),  # the optimizer never sees a test example
            train=self.train,
            task_llm=task_llm,
            optimizer=opt_llm,
            store=self.store,
            run_id=self.run_id,
            seed=s.seed,
            placement=s.placement,
            failure_threshold=s.failure_threshold,
            stoppers=s.budget.stoppers(),
            on_event=s.on_event,
        )
        limits = loop_limits(s)
        if self.resumed:  # a "restored" event follows when the loop had ended before
            ctx.event(0, "resumed", {"train_records": ctx.train_requests()})
        outcome = recorded_end(ctx, limits, self.kept_end) if self.resumed else None
        if outcome is None:
            outcome = await run_loop(
                s.optimizer,
                ctx,
                s.prompt.strip(),
                iterations=s.iterations,
                patience=s.budget.patience,
            )
            ctx.adopt_stored()
            record_end(ctx, outcome, limits)
        if outcome.initial is None:
            raise UserError(
                f"the run stopped before the initial prompt was scored ({outcome.stop_reason})",
                field="--budget",
            )
        picks = {
            rule: choose(ctx.ranked(), outcome.initial, rule, s.selection_alpha) for rule in RULES
        }
        test_of = await self._test(task_llm, outcome, picks)
        return self._result(ctx, outcome, picks, test_of, opt_llm, hub)

    async def _test(
        self, task_llm: LLM, outcome: LoopOutcome, picks: dict[str, Candidate]
    ) -> dict[str, float | None]:
        """Test scores of the initial, last and selected prompts, each distinct prompt once."""
        test_of: dict[str, float | None] = {}
        if not self.spec.evaluate_test:
            return test_of
        if self.spec.on_event:
            self.spec.on_event("testing", {"n": len(self.test)})
        best = picks[self.spec.select]
        for cand in [outcome.initial, outcome.last or best, best, *picks.values()]:
            assert cand is not None
            if cand.hash not in test_of:
                res = await score_stored(
                    self.store,
                    self.run_id,
                    task_llm.with_role("test"),
                    self.task,
                    cand.text,
                    self.test,
                    "test",
                    self.spec.placement,
                    self.spec.seed,
                )
                test_of[cand.hash] = res.score
        return test_of

    def _result(
        self,
        ctx: RunContext,
        outcome: LoopOutcome,
        picks: dict[str, Candidate],
        test_of: dict[str, float | None],
        opt_llm: LLM,
        hub: ModelHub,
    ) -> OptimizeResult:
        assert outcome.initial is not None
        best = picks[self.spec.select]
        last = outcome.last or best
        return OptimizeResult(
            run_dir=self.run_path,
            initial_prompt=outcome.initial.text,
            best_prompt=best.text,
            last_prompt=last.text,
            best_train_score=best.score,
            last_train_score=last.score,
            initial_train_score=outcome.initial.score,
            best_test_score=test_of.get(best.hash),
            last_test_score=test_of.get(last.hash),
            initial_test_score=test_of.get(outcome.initial.hash),
            stop_reason=outcome.stop_reason,
            select=self.spec.select,
            selections={
                rule: {
                    "prompt": c.text,
                    "hash": c.hash,
                    "train": c.score,
                    "test": test_of.get(c.hash),
                }
                for rule, c in picks.items()
            },
            usage=run_usage(self.store, self.run_id, opt_llm, hub.usage),
            candidates=[pool_row(c) for c in ctx.pool],
        )
