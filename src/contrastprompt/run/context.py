"""The run context: everything an optimizer may use during a run (scoring with store and cache,
asking the optimizer model, the stop conditions, events), the scored prompt (`Candidate`) and the
small interface an optimizer implements (`Optimizer`).

An optimizer only proposes prompts. It never evaluates, caches, counts or stores by itself: it
calls `ctx.score(...)` and `ctx.ask(...)`, so budgets and resume mean the same for every method.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from ..data.task import Example, Task, render
from ..llm import LLM, ChatRequest, ChatResponse, Message
from ..llm.usage import price_for
from ..scoring import EvalResult, Record, evaluate_async
from ..store import Store
from .stoppers import MaxOptimizerCalls, Stopper, StopRun, TaskBudget

T = TypeVar("T")


@dataclass
class Candidate:
    """A scored prompt in the pool. `seq` is its creation order in the run (for tie-breaks)."""

    text: str
    hash: str
    origin: str
    iteration: int
    seq: int
    score: float
    records: list[Record] = field(default_factory=list, repr=False)
    parents: list[str] = field(default_factory=list)
    meta: dict = field(default_factory=dict)

    @classmethod
    def from_row(
        cls, row: dict, score: float = 0.0, records: list[Record] | None = None
    ) -> Candidate:
        """The candidate a stored prompt row stands for, with `score` on `records`."""
        return cls(
            text=row["text"],
            hash=row["hash"],
            origin=row["origin"],
            iteration=row["iteration"],
            seq=row["seq"],
            score=score,
            records=records if records is not None else [],
            parents=row["parents"],
            meta=row["meta"],
        )

    def rank_key(self) -> tuple:
        """Higher train score, then earlier created. `seq` is unique within a run, so no third
        key could ever decide (docs/method.md)."""
        return (-self.score, self.seq)


EventHook = Callable[[str, dict], None]


class NoRoom(Exception):
    """An optimizer request not made: the call cap's last calls are kept for a later step."""


class RunContext:
    """Everything an optimizer may use during a run."""

    def __init__(
        self,
        *,
        task: Task,
        train: list[Example],
        task_llm: LLM,
        optimizer: LLM,
        store: Store,
        run_id: int,
        seed: int,
        placement: str = "user",
        failure_threshold: float = 1.0,
        stoppers: list[Stopper] | None = None,
        on_event: EventHook | None = None,
    ) -> None:
        self.task, self.train = task, train
        self.task_llm, self.optimizer = task_llm, optimizer
        self.store, self.run_id, self.seed = store, run_id, seed
        self.placement = placement
        self.failure_threshold = failure_threshold
        self.stoppers = stoppers or []
        self.on_event = on_event
        self.started = time.monotonic()
        self._pool: dict[str, Candidate] = {}
        # the prompt `score` last scored on the whole training set (a minibatch screen through
        # `evaluate` does not count): the run's last prompt when a stop cuts a step short
        self.last_scored: Candidate | None = None
        self._score_lock = asyncio.Lock()
        self._path: set[tuple[str, str]] = set()  # (prompt, example) this process's path used
        self._ask_slots: asyncio.Semaphore | None = None
        # the iterations the loop runs at most (set by the loop): a method that plans its
        # budget across iterations divides it among the ones left
        self.iterations: int | None = None

    # randomness: one stream per purpose, so resuming replays the same choices
    def rng(self, *label: object) -> random.Random:
        digest = hashlib.sha256(repr((self.seed, *label)).encode()).digest()
        return random.Random(int.from_bytes(digest[:8], "big"))

    def request_seed(self, *label: object) -> int:
        return self.rng("request-seed", *label).randrange(2**31)

    def check(self, kind: str, cost: int = 0) -> None:
        for s in self.stoppers:
            why = s.before(self, kind, cost)
            if why:
                raise StopRun(why)

    def train_requests(self) -> int:
        return self.store.count_split(self.run_id, "train")

    def path_requests(self) -> int:
        """Task requests on the training side that this process's path has used so far,
        records reused from the store included. A method plans with this count, not the
        store's: on a resume the store already holds the records of steps the replay has not
        reached, and planning on them would shrink a step the first process ran in full, so
        the resumed run would take another path. The stoppers count what was paid."""
        return len(self._path)

    def limit(self, kind: type) -> int | None:
        """The tightest limit of this run's stoppers of one kind (TaskBudget,
        MaxOptimizerCalls), or None when the run has none."""
        limits = [s.limit for s in self.stoppers if isinstance(s, kind)]
        return min(limits) if limits else None

    def requests_left(self) -> int | None:
        """Task requests the budget still allows on the training side at this point of the
        path, or None without a budget (for planning; see `path_requests`)."""
        budget = self.limit(TaskBudget)
        return None if budget is None else max(0, budget - self.path_requests())

    def scorings_left(self) -> int | None:
        """How many more prompts the task budget can score on the whole training set, or None
        without a task budget: a method that plans a step can fit it to what is left."""
        left = self.requests_left()
        return None if left is None else left // max(1, len(self.train))

    def asks_left(self) -> int | None:
        """How many more optimizer requests the call cap allows at this point of the path, or
        None without a cap. For planning it counts this process's requests, replays from the
        cache included (see `path_requests`); the cap itself counts what was paid."""
        cap = self.limit(MaxOptimizerCalls)
        return None if cap is None else max(0, cap - self.optimizer.stats.requests)

    def out_of_room(self) -> str | None:
        """Why no further prompt fits this path (the call cap reached, or the task budget
        short of one scoring on the training set), worded as the stoppers word it; None while
        one fits. Counts as `requests_left` and `asks_left` do."""
        if self.asks_left() == 0:
            cap = self.limit(MaxOptimizerCalls)
            return f"max optimizer calls: {self.optimizer.stats.requests} of {cap}"
        left = self.requests_left()
        if left is not None and left < len(self.train):
            return (
                f"budget: {self.path_requests()} of {self.limit(TaskBudget)} task requests "
                f"used, too few left to score a prompt on {len(self.train)} items"
            )
        return None

    def optimizer_requests(self) -> int:
        """Optimizer requests so far over the whole run: this process's (replays from the cache
        included) or the calls stored by every process, whichever is more. A resumed run that
        does not replay every earlier request (its path changed, its cache was lost) still
        counts what was paid for, so a call cap holds across processes."""
        stored = self.totals().get("optimizer", {}).get("calls", 0)
        return max(self.optimizer.stats.requests, stored)

    def totals(self) -> dict[str, dict]:
        return self.store.call_totals(self.run_id, price_for)

    def cost(self) -> float | None:
        """Money spent over the whole run (every process that resumed it), or None if a price
        is unknown."""
        costs = [t["cost"] for t in self.totals().values()]
        return None if None in costs else sum(costs)

    def event(self, iteration: int, kind: str, data: dict) -> None:
        self.store.add_event(self.run_id, iteration, kind, data)
        if self.on_event:
            usage = {
                role: {"requests": u.requests, "calls": u.calls, "tokens": u.tokens}
                for role, u in self.task_llm.usage.roles.items()
            }
            usage["task"] = dict(usage.get("task", {}), requests=self.train_requests())
            self.on_event(kind, {"iteration": iteration, **data, "usage": usage})

    @property
    def pool(self) -> list[Candidate]:
        return sorted(self._pool.values(), key=lambda c: c.seq)

    def candidate(self, phash: str) -> Candidate | None:
        """The pool's candidate with this hash, if the pool has it."""
        return self._pool.get(phash)

    def ranked(self) -> list[Candidate]:
        return sorted(self._pool.values(), key=Candidate.rank_key)

    def best(self) -> Candidate:
        return self.ranked()[0]

    def adopt_stored(self, kind: str = "adopted") -> list[Candidate]:
        """Join to the pool every prompt of this run that the store holds scored on the whole
        training set but this process never scored: after an interruption, a resumed run whose
        optimizer answers came out differently (a request in flight at the kill, asked again
        under batching) takes another path, and the prompts of the abandoned path were paid
        for. Called after the loop, so a resumed run that repeats its path is unchanged.
        `kind` names the event: "restored" when the pool of a loop that ended before is rebuilt.
        """
        ids = {e.id for e in self.train}
        # only prompts scored as candidates (`score`), never those a method evaluated on parts
        # of the training set that happen to cover all of it: the pool stays the method's own
        scored = {e["data"]["hash"] for e in self.store.events(self.run_id, "scored")}
        adopted = []
        for row in self.store.prompts(self.run_id):
            if row["hash"] in self._pool or row["hash"] not in scored:
                continue
            recs = self.store.records(self.run_id, row["hash"], "train")
            if set(recs) != ids:
                continue
            kept = [recs[e.id] for e in self.train]
            for r in kept:
                r.threshold = self.failure_threshold
            cand = Candidate.from_row(row, sum(r.score for r in kept) / len(kept), kept)
            self._pool[cand.hash] = cand
            adopted.append(cand)
        if adopted:
            self.event(0, kind, {"hashes": [c.hash for c in adopted]})
        return adopted

    def failures(self, cand: Candidate) -> list[Record]:
        return [r for r in cand.records if not r.correct]

    async def score(
        self,
        text: str,
        *,
        origin: str,
        iteration: int,
        parents: list[str] | None = None,
        meta: dict | None = None,
    ) -> Candidate:
        """Score a prompt on the whole training set, once per run: records already in the store
        are reused, so neither a duplicate prompt nor a resumed run asks the model again."""
        async with self._score_lock:  # one prompt at a time keeps budget checks exact
            phash, _ = self.store.add_prompt(self.run_id, text, origin, iteration, parents, meta)
            if phash in self._pool:
                return self._pool[phash]
            self.event(iteration, "scoring", {"hash": phash, "origin": origin})
            res = await self._evaluate(phash, text, self.train)
            row = self.store.prompt(self.run_id, phash)
            cand = Candidate.from_row(row, res.score, res.records)
            self._pool[phash] = cand
            self.last_scored = cand
            self.event(
                iteration,
                "scored",
                {
                    "hash": phash,
                    "origin": cand.origin,
                    "score": cand.score,
                    "seq": cand.seq,
                    "requests": self.train_requests(),
                },
            )
            return cand

    async def evaluate(
        self,
        text: str,
        examples: list[Example],
        *,
        origin: str,
        iteration: int,
        parents: list[str] | None = None,
        meta: dict | None = None,
    ) -> list[Record]:
        """Score a prompt on some training examples only (a minibatch, a bandit pull). The
        records are stored like any others, count against the budget, and are reused when the
        prompt is later scored on the whole training set. The prompt does not join the pool."""
        known = {e.id for e in self.train}
        if any(e.id not in known for e in examples):
            raise ValueError("an optimizer may only evaluate training examples")
        async with self._score_lock:
            phash, _ = self.store.add_prompt(self.run_id, text, origin, iteration, parents, meta)
            return (await self._evaluate(phash, text, examples)).records

    async def _evaluate(self, phash: str, text: str, examples: list[Example]) -> EvalResult:
        done = self.store.records(self.run_id, phash, "train")
        missing = len([e for e in examples if e.id not in done])
        if missing:
            self.check("score", missing)
        self._path.update((phash, e.id) for e in examples)

        def keep(rec: Record) -> None:
            self.store.add_record(self.run_id, phash, "train", rec)

        return await evaluate_async(
            text,
            examples,
            self.task,
            self.task_llm,
            placement=self.placement,
            seed=self.seed,
            done=done,
            on_record=keep,
            threshold=self.failure_threshold,
        )

    async def ask(
        self,
        template_text: str,
        fields: dict[str, Any],
        *,
        temperature: float,
        max_tokens: int,
        label: tuple,
        sample: int = 0,
        stop: tuple[str, ...] = (),
        keep: int | None = None,
    ) -> ChatResponse:
        """One optimizer-model request built from a template file and `{field}` values.

        The stop conditions are checked once a slot is free, not when the request is queued:
        otherwise every request of a step passes the check at once, before any of them has used
        tokens, and a token or cost limit is overshot by a whole step. `keep`: requests a
        later step of the method needs under the call cap; when this one would leave fewer
        (with 0: when the cap is reached), it is not made (`NoRoom`) and the run goes on.
        Checked in the slot, where the count cannot change before the request is counted, so
        concurrent asks never take the kept ones."""
        if self._ask_slots is None:
            self._ask_slots = asyncio.Semaphore(self.optimizer.max_concurrency)
        async with self._ask_slots:
            left = self.asks_left()
            if keep is not None and left is not None and left <= keep:
                raise NoRoom(
                    f"the call cap keeps its last {keep} call(s) for a later step"
                    if keep
                    else "the optimizer-call cap is reached"
                )
            content = render(template_text, fields)
            req = ChatRequest(
                messages=(Message("user", content),),
                temperature=temperature,
                max_tokens=max_tokens,
                seed=self.request_seed(*label, sample),
                sample=sample,
                stop=stop,
            )
            # a call this run already paid for whose answer is in the cache is a replay (a
            # resumed run retracing its path): it costs nothing again, so a limit the first
            # process reached does not stop it
            key = req.key(self.optimizer.model_id)
            if not (self.store.has_call(self.run_id, key) and self.optimizer.cached(req)):
                self.check("ask")
            return await self.optimizer.chat(req)

    async def ask_parsed(
        self,
        template_text: str,
        fields: dict[str, Any],
        parse: Callable[[str], Any],
        *,
        temperature: float,
        max_tokens: int,
        label: tuple,
        retries: int,
        retry_temperature: float | None = None,
        stop: tuple[str, ...] = (),
        keep: int = 0,
    ) -> tuple[Any, str]:
        """Ask and parse; an unusable answer is asked again as a new sample (and, if given, at
        `retry_temperature`: a greedy retry would only repeat itself), at most `retries` times.
        Returns (parsed or None, last raw answer). An attempt the cap has no room for with
        `keep` calls left for later (see `ask`) is not made, and the raw answer says so; a retry
        is never what reaches the cap and ends the run: the unusable answer is reported as
        such instead."""
        raw = ""
        for attempt in range(retries + 1):
            temp = temperature if attempt == 0 or retry_temperature is None else retry_temperature
            try:
                resp = await self.ask(
                    template_text,
                    fields,
                    temperature=temp,
                    max_tokens=max_tokens,
                    label=label,
                    sample=attempt,
                    stop=stop,
                    keep=keep if keep or attempt else None,
                )
            except NoRoom as e:
                return None, f"{raw}\n(not asked: {e})".strip()
            raw = resp.text
            parsed = parse(raw)
            if parsed:
                return parsed, raw
        return None, raw


async def gather_or_cancel(coros: Iterable[Awaitable[T]]) -> list[T]:
    """Like `asyncio.gather`, but when one fails (a `StopRun`, an error) the others are cancelled
    and awaited before the error propagates: no request keeps running, unaccounted, after the
    step has ended."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


async def gather_asks(coros: Iterable[Awaitable[T]]) -> list[T | None]:
    """The parallel asks of a step. When a stop condition refuses one (the optimizer-call cap,
    reached half-way through), the asks not yet answered are cancelled, as `gather_or_cancel`
    does, but the answers that came back are kept (None in place of the others) and the step
    goes on with them: scoring needs no optimizer call, so a method whose step asks more than
    the cap still scores what it wrote. Only when no answer came back does the `StopRun` end
    the step; any other error cancels the rest and propagates."""
    tasks = [asyncio.ensure_future(c) for c in coros]
    stop: StopRun | None = None
    try:
        for fut in asyncio.as_completed(tasks):
            try:
                await fut
            except StopRun as refused:
                stop = stop or refused
                for t in tasks:
                    t.cancel()
                break
    except BaseException:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    await asyncio.gather(*tasks, return_exceptions=True)
    got = [
        t.result() if t.done() and not t.cancelled() and t.exception() is None else None
        for t in tasks
    ]
    if stop is not None and all(g is None for g in got):
        raise stop
    return got


def best_of(cands: list[Candidate]) -> Candidate | None:
    return min(cands, key=Candidate.rank_key) if cands else None


def fresh(
    ctx: RunContext, iteration: int, written: list[tuple[int, str | None, str]], step: str
) -> list[tuple[int, str]]:
    """The usable proposals not already in the pool, in a fixed order (so runs repeat); the
    unusable and the duplicates are recorded as events."""
    seen = {c.text.strip() for c in ctx.pool}
    out = []
    for i, text, raw in written:
        if text is None:
            ctx.event(iteration, "skipped", {"step": step, "index": i, "raw": raw[:500]})
        elif text.strip() in seen:
            ctx.event(iteration, "duplicate", {"step": step, "index": i})
        else:
            seen.add(text.strip())
            out.append((i, text))
    return out


async def score_new(
    ctx: RunContext,
    iteration: int,
    written: list[tuple[int, str | None, str]],
    *,
    origin: str,
    parents: list[str],
) -> list[Candidate]:
    """Score each usable, new proposal on the whole training set."""
    return [
        await ctx.score(
            text, origin=origin, iteration=iteration, parents=parents, meta={"index": i}
        )
        for i, text in fresh(ctx, iteration, written, origin)
    ]


class Optimizer(Protocol):
    """One prompt-optimization method. `step` runs one iteration from the current prompt and
    returns the next current prompt (already scored), or None when it has nothing to add.

    A fixed method (the initial prompt, chain of thought) has `fixed = True`: the run scores
    `start(prompt)` and stops. `project` forecasts one run's requests before anything is spent,
    so the CLI and the bench can print what a method will cost on its own schedule."""

    name: str
    fixed: bool
    why: str  # after `step` returned None: why the method has nothing to add ("" if no reason)

    def settings(self) -> dict: ...

    def start(self, prompt: str) -> str: ...

    def adapt_task(self, task: Task) -> Task: ...

    def project(self, n_train: int, iterations: int) -> dict[str, int]: ...

    async def step(
        self, ctx: RunContext, iteration: int, current: Candidate
    ) -> Candidate | None: ...
