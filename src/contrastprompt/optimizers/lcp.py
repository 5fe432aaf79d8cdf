"""Learning from Contrastive Prompts (LCP), after Li et al. 2024 (arXiv 2409.15199).

One iteration from the current prompt p_t (see docs/method.md):
  1. collect the failures of p_t on the training set;
  2. ask the optimizer model why p_t led to them (at most `max_failures`, seeded);
  3. N times: give a different seeded random subset of `subset_size` reasons and ask, at a
     creative temperature, for a prompt that fixes what those failures have in common;
  4. score the new candidates; the pool keeps every prompt of the run with its score (history);
  5. contrast: show the top-k prompts against the bottom-k and ask what separates them and for a
     new prompt p_{t+1} built on that; score it. Last and best-on-train are both reported.

Two profiles. "paper" is the method as published: every prompt scored on the whole training
set, N = 10, one reason a failure, the writers shown reasons only. "budget" (the default) runs
the same steps within a small budget (docs/benchmarks/public-diagnosis.md: at 300 task requests and
20 calls the paper's schedule held half an iteration): candidates are raced on a shared
minibatch of `screen` training items (a new one each iteration) and only the prompts that can
still be the best are completed to the whole training set; `reasons_per_call` failures are
explained per call; the plan (`schedule`) derives iterations and candidates from the budget and
the call cap; the writers see each reason beside its question, the correct answer and the reply,
failures drawn to cover the labels the prompt gets wrong, and a few labelled training examples;
the contrast compares prompts that passed the format guard (`guard.py`) on the items they share,
with items where they disagree; and every written prompt passes the guard before it is scored.

The meta-prompts are ours and were shaped on what a 1.5B optimizer does with them (README): they
say that one instruction is placed before every question, so it can only give general advice,
must not copy a question or ask for facts, and must state the answer form (taken from the task's
answer type, e.g. "an option letter such as (A)"; a prompt that asks for the wrong format scores
zero whatever its advice); the reason request shows the question, the model's reply, the answer
we read from it and the correct answer, and says it was scored wrong (without that, the
optimizer called chatty but correct-looking replies right). Answers stop at the closing tag; the
contrast answer must mark its prompt (its first paragraph is the analysis). A candidate identical
to a prompt already in the pool is dropped (it would only repeat its score); an unusable
optimizer answer is retried `max_retries` times with a new sample index, then recorded as
skipped; when the pool holds fewer than 2 distinct prompts the contrast is skipped and the best
prompt carried forward, with the reason recorded.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from ..data.task import Example, Record
from ..errors import UserError
from ..store import prompt_hash
from . import guard
from .base import (
    BaseOptimizer,
    Candidate,
    RunContext,
    StopRun,
    TaskBudget,
    gather_asks,
    group,
    section,
    template,
)
from .parsing import analysis, parse_prompt, parse_reason, parse_reasons, parse_strict


@dataclass
class LCPSettings:
    # "budget": the schedule fitted to the run's budget and call cap (module docstring);
    # "paper": the method as published (the values in PAPER, and the writers shown reasons
    # only). A setting given beside the profile keeps its given value
    profile: str = "budget"
    candidates: int = 10  # N at most; the budget's plan writes fewer when a limit binds
    top_k: int = 3
    subset_size: int = 5  # reasons per candidate
    max_failures: int = 20  # failures explained per iteration at most
    reasons_per_call: int = 5  # failures explained in one optimizer call (the paper: 1)
    # items each candidate is first scored on: a shared minibatch, a new one each iteration;
    # only prompts at least as good there as the best complete prompt are completed to the
    # whole training set. 0, or a training set smaller than two minibatches: every prompt is
    # scored on the whole training set (the paper)
    screen: int = 10
    promote: int = 2  # prompts an iteration may complete to the whole training set
    examples: int = 3  # labelled training examples in each candidate and contrast request
    guard: bool = True  # the format guard (guard.py) before a written prompt is scored
    contrast: bool = True  # False: LCP without its contrast step (the ablation)
    candidate_temperature: float = 1.0
    contrast_temperature: float = 0.7
    max_retries: int = 2  # extra tries for an unusable optimizer answer


PROFILES = ("budget", "paper")
# the paper profile's values, for the settings not given beside it
PAPER = {"candidates": 10, "reasons_per_call": 1, "screen": 0, "examples": 0, "guard": False}
# the settings for which 0 is a value ("off") though their default is not
ZERO_ALLOWED = ("screen", "examples")


@dataclass(frozen=True)
class Round:
    """One iteration of the budget's plan: what it writes, and what it may spend at most."""

    candidates: int
    failures: int  # failures explained
    reason_calls: int
    minibatch: int  # items each candidate and the contrast prompt are first scored on
    history: int  # unfinished prompts of earlier iterations extended onto the minibatch
    calls: int  # optimizer calls: reasons, candidates, the contrast
    requests: int  # task requests at most, one completion to the whole training set included


SAMPLINGS = ("random", "by_label")


def sample_failures(failures: list, n: int, rng: random.Random, how: str) -> list:
    """`n` failures to explain. "random": a random sample. "by_label": the failures grouped by
    their correct answer, each group shuffled, then taken one from each group in turn (groups in
    a shuffled order), so every label the prompt gets wrong is explained before any twice."""
    if how not in SAMPLINGS:
        raise ValueError(f"sampling must be one of {', '.join(SAMPLINGS)}, not {how!r}")
    n = min(n, len(failures))
    if how == "random":
        return rng.sample(failures, n)
    groups: dict[str, list] = {}
    for rec in failures:
        groups.setdefault(str(rec.target), []).append(rec)
    queues = [rng.sample(g, len(g)) for g in groups.values()]
    rng.shuffle(queues)
    chosen: list = []
    while len(chosen) < n:
        for q in queues:
            if q and len(chosen) < n:
                chosen.append(q.pop())
    return chosen


def _count(n: int, word: str) -> str:
    """`n` and `word`, plural unless n is 1 ("1 candidate", "6 candidates")."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def telling_examples(
    good: list[Candidate], bad: list[Candidate], k: int, rng: random.Random
) -> list[tuple[Record, Record]]:
    """Up to `k` training items that separate the good prompts from the bad ones, as pairs
    (a good prompt's right answer, a bad prompt's wrong one). An item counts when the good
    prompts answer it right more often than the bad ones do; the widest margins come first, ties
    in a seeded order. Only items every shown prompt was scored on are considered."""
    if k <= 0 or not good or not bad:
        return []
    by_prompt = [{r.example_id: r for r in c.records} for c in good + bad]
    shared = set.intersection(*(set(m) for m in by_prompt))
    ids = sorted(shared)
    rng.shuffle(ids)
    n_good = len(good)

    def margin(i: str) -> float:
        right = [m[i].correct for m in by_prompt]
        return sum(right[:n_good]) / n_good - sum(right[n_good:]) / len(bad)

    chosen = sorted((i for i in ids if margin(i) > 0), key=margin, reverse=True)[:k]
    out = []
    for i in chosen:
        right = next(m[i] for m in by_prompt[:n_good] if m[i].correct)
        wrong = next(m[i] for m in reversed(by_prompt[n_good:]) if not m[i].correct)
        out.append((right, wrong))
    return out


def can_contrast(pool: list[Candidate]) -> bool:
    """Whether the pool holds two distinct prompts, the least a contrast can be drawn from."""
    return len({c.text.strip() for c in pool}) >= 2


def on_shared(cands: list[Candidate]) -> list[tuple[Candidate, float]]:
    """The prompts with their mean score on the training items all of them were scored on,
    best first (ties: the earlier prompt): a ranking of prompts raced on different minibatches
    that compares them on the same questions only."""
    if not cands:
        return []
    ids = set.intersection(*({r.example_id for r in c.records} for c in cands))

    def mean(c: Candidate) -> float:
        got = [r.score for r in c.records if r.example_id in ids]
        return sum(got) / len(got) if got else 0.0

    return sorted(((c, mean(c)) for c in cands), key=lambda p: (-p[1], p[0].seq))


def versus(cand: Candidate, other: Candidate) -> float:
    """`cand`'s mean score minus `other`'s on the items both were scored on (0 with none)."""
    theirs = {r.example_id: r.score for r in other.records}
    pairs = [(r.score, theirs[r.example_id]) for r in cand.records if r.example_id in theirs]
    return sum(a - b for a, b in pairs) / len(pairs) if pairs else 0.0


def race_group(ev: dict) -> dict:
    """One iteration's race as the report shows it: every prompt's score on the minibatch."""
    d = ev["data"]
    done = set(d["completed"])
    lines = [
        (
            f"{p['origin']} {p['score']:.2f}"
            + (" (completed to the whole training set)" if p["hash"] in done else ""),
            p["text"],
        )
        for p in d["prompts"]
    ]
    title = (
        f"Iteration {ev['iteration']}: {len(lines)} prompts on the same {len(d['items'])} items "
        f"(best complete prompt {d['incumbent']:.2f} there)"
    )
    return group(title, lines, pre=True)


def guard_groups(events: list[dict]) -> list[dict]:
    """The format guard's verdicts, one group an iteration: how many prompts it repaired and
    rejected, and why."""
    by_it: dict[int, list[dict]] = {}
    for ev in events:
        by_it.setdefault(ev["iteration"], []).append(ev["data"])
    out = []
    for it, verdicts in sorted(by_it.items()):
        fixed = sum(v["action"] == "repair" for v in verdicts)
        title = f"Iteration {it}: {fixed} repaired, {len(verdicts) - fixed} rejected"
        out.append(group(title, [(f"{v['step']}: {v['why']}", v["text"]) for v in verdicts]))
    return out


class LCP(BaseOptimizer):
    name = "lcp"
    title = (
        "LCP: candidates from failure reasons, then a prompt from contrasting good and bad prompts"
    )
    origins = {"candidate": "#4c78a8", "contrast": "#e45756"}
    Settings = LCPSettings
    zero_allowed = ZERO_ALLOWED
    # fixed parts of the requests: the paper's greedy reasons, and room for a reason, a prompt
    # and an analysis before it
    reason_temperature = 0.0
    reason_max_tokens = 120
    candidate_max_tokens = 320
    contrast_max_tokens = 600
    shown_chars = 400  # how much of a question or a reply a request quotes
    history = 2  # unfinished prompts of earlier iterations carried onto a new minibatch
    contrast_items = 3  # items shown in the contrast where the good and bad prompts disagree

    def __init__(self, settings: LCPSettings | None = None, **overrides: object) -> None:
        super().__init__(settings, **overrides)
        s = self.s
        if s.profile not in PROFILES:
            raise ValueError(f"profile must be one of {', '.join(PROFILES)}, not '{s.profile}'")
        if s.profile == "paper":
            for key, value in PAPER.items():
                if key not in overrides and getattr(s, key) == getattr(LCPSettings, key):
                    setattr(s, key, value)
        if s.reasons_per_call < 1:
            raise ValueError(f"reasons_per_call must be at least 1, not {s.reasons_per_call}")
        if s.screen < 0 or s.examples < 0 or s.promote < 1:
            raise ValueError(
                f"screen and examples must be 0 or more and promote at least 1, not "
                f"{s.screen}, {s.examples} and {s.promote}"
            )
        self.t_reason = template("lcp_reason.txt")
        self.t_reasons = template("lcp_reasons.txt")
        self.t_candidate = template("lcp_candidate.txt")
        self.t_contrast = template("lcp_contrast.txt")
        self._ctx: RunContext | None = None
        self._partial: dict[str, Candidate] = {}  # prompts this path raced, not yet complete
        self._quotes: guard.QuoteFinder | None = None

    @property
    def paper(self) -> bool:
        return self.s.profile == "paper"

    def minibatch(self, n_train: int) -> int:
        """The items each candidate is first scored on: `screen`, or the whole training set
        when it holds fewer than two minibatches (a race on most of the set saves nothing)."""
        m = self.s.screen
        return m if m > 0 and 2 * m <= n_train else n_train

    def racing(self, n_train: int) -> bool:
        return self.minibatch(n_train) < n_train

    def project(self, n_train: int, iterations: int) -> dict[str, int]:
        """Every iteration in full, no limit applied (`forecast` applies them)."""
        rounds = self._rounds(n_train, iterations, None, None)
        return {
            "task_requests": n_train + sum(r.requests for r in rounds),
            "optimizer_requests": sum(r.calls for r in rounds),
        }

    def forecast(
        self, n_train: int, iterations: int, budget: int | None, calls: int | None
    ) -> dict:
        """The run's plan under its limits, in figures and in words (for --dry-run): the plan
        the steps will follow when no answer is unusable and every candidate is new."""
        rounds = self._rounds(n_train, iterations, budget, calls)
        requests = n_train + sum(r.requests for r in rounds)
        asks = sum(r.calls for r in rounds)
        return {
            "task_requests": requests if budget is None else min(budget, requests),
            "optimizer_requests": asks if calls is None else min(calls, asks),
            "iterations": len(rounds),
            "plan": self.describe(rounds, n_train, iterations),
        }

    def _rounds(
        self, n: int, iterations: int, budget: int | None, calls: int | None
    ) -> list[Round]:
        if self.racing(n):
            return self.schedule(n, None if budget is None else budget - n, calls, iterations)
        rounds: list[Round] = []
        left = None if budget is None else budget - n
        c = int(self.s.contrast)
        for _ in range(iterations):
            if (left is not None and left < n) or (calls is not None and calls < 1 + c):
                break
            n_cand, n_fail = self.full_plan(n, left, calls, bool(rounds))
            r = -(-n_fail // self.s.reasons_per_call) if n_cand else 0
            done = Round(n_cand, n_fail if n_cand else 0, r, n, 0, r + n_cand + c, (n_cand + c) * n)
            rounds.append(done)
            left = None if left is None else left - done.requests
            calls = None if calls is None else calls - done.calls
        return rounds

    def describe(self, rounds: list[Round], n: int, asked: int) -> list[str]:
        """The plan in words, one line an iteration."""
        s = self.s
        held = "" if len(rounds) == asked else f" (the limits hold {len(rounds)} of {asked})"
        many = "iteration" if len(rounds) == 1 else "iterations"
        out = [f"LCP plan ({s.profile} profile): {len(rounds)} {many}{held}"]
        for t, r in enumerate(rounds, 1):
            writes = (
                f"{_count(r.candidates, 'candidate')} from "
                f"{_count(r.failures, 'failure reason')} in {_count(r.reason_calls, 'call')}"
                if r.candidates
                else "no candidates"
            )
            step = "each candidate and the contrast prompt" if s.contrast else "each candidate"
            if r.minibatch < n:
                carried = f", with {r.history} earlier prompts carried onto it" * bool(r.history)
                where = (
                    f"{step} first scored on a shared minibatch of {r.minibatch} training items "
                    f"(a new one each iteration){carried}; at most {s.promote} that can still "
                    f"be the best completed to all {n} items"
                )
            else:
                where = f"{step} scored on all {n} training items"
            contrast = "" if s.contrast else "; no contrast step"
            out.append(f"  iteration {t}: {writes}; {where}{contrast}")
        return out

    def least_limits(self, n_train: int) -> tuple[int, int, str, str]:
        """The smallest task budget and call cap that hold one iteration of the plan, each with
        what it pays for, in words. Racing, that iteration is the schedule's own smallest round
        (one candidate and the contrast on a minibatch, one of them completed to the whole
        training set, one spare call for a retry), so limits the check accepts always get a
        plan; in full scoring, one candidate and the contrast on the whole training set."""
        s, c = self.s, int(self.s.contrast)
        what = "one candidate and the contrast prompt" if c else "one candidate"
        if not self.racing(n_train):
            calls = "a reason, a candidate and the contrast" if c else "a reason and a candidate"
            return n_train + (1 + c) * n_train, 2 + c, f"{what} on all {n_train} items", calls
        rooms = range(2 + c, 4 + c + max(s.subset_size, s.max_failures))
        asks = next(r for r in rooms if self._round(n_train, 1, 0, r, True) is not None)
        least = self._round(n_train, 1, 0, asks, True)
        assert least is not None
        done = "one of them completed" if c else "completed"
        items = f"{what} on a {least.minibatch}-item minibatch, then {done} to all {n_train}"
        calls = (
            f"{_count(least.reason_calls, 'reason call')}, a candidate"
            f"{', the contrast' if c else ''} and one spare call for a retry"
        )
        return n_train + least.requests, asks, items, calls

    def check_limits(self, n_train: int, budget: int | None, calls: int | None) -> None:
        """Refuse limits that cannot hold one iteration of the plan (`least_limits`), naming the
        smallest value that does (the dry run and the run alike)."""
        requests, asks, items, steps = self.least_limits(n_train)
        if budget is not None and budget < requests:
            raise UserError(
                f"LCP needs at least {requests} task requests: the initial prompt on the "
                f"{n_train} training items, then {items}",
                field="--budget",
            )
        if calls is not None and calls < asks:
            raise UserError(
                f"LCP needs at least {asks} optimizer calls ({steps})",
                field="--max-optimizer-calls",
            )

    def report_data(self, events: Callable[[str], list[dict]], by_hash: dict) -> list[dict]:
        def prompts(pairs: list, texts: dict) -> list[tuple[str, str]]:
            return [
                (f"{s:.2f}", texts.get(h) or by_hash.get(h, {}).get("text", h)) for h, s in pairs
            ]

        contrasts = []
        for ev in events("contrast"):
            d, it = ev["data"], ev["iteration"]
            texts = d.get("texts", {})
            result = d.get("text") or by_hash.get(d["result"], {}).get("text", "")
            on = f" on {d['items']} items" if d.get("items") else ""
            contrasts += [
                group(
                    f"Iteration {it}: high-scoring prompts",
                    prompts(d["good"], texts),
                    open=True,
                    pre=True,
                ),
                group(
                    f"Iteration {it}: low-scoring prompts",
                    prompts(d["bad"], texts),
                    open=True,
                    pre=True,
                ),
                group(
                    f"Iteration {it}: patterns the optimizer named",
                    [d.get("patterns") or "(none given)"],
                    open=True,
                    pre=True,
                ),
                group(
                    f"Iteration {it}: new prompt (train {d['score']:.2f}{on})",
                    [result],
                    open=True,
                    pre=True,
                ),
            ]
        reasons = [
            group(
                f"Iteration {ev['iteration']}: {len(ev['data']['reasons'])} failure reasons",
                [r["reason"] for r in ev["data"]["reasons"]],
            )
            for ev in events("reasons")
        ]
        out = [
            section(
                "Contrast steps", contrasts, empty="No contrast step completed.", kind="contrast"
            ),
            section("Failure reasons", reasons, empty="None."),
        ]
        raced = [race_group(ev) for ev in events("race")]
        if raced:
            out.append(section("Racing on minibatches", raced, empty="None."))
        guarded = guard_groups(events("guard"))
        if guarded:
            out.append(section("Format guard", guarded, empty="None."))
        return out

    async def step(self, ctx: RunContext, iteration: int, current: Candidate) -> Candidate | None:
        if self._ctx is not ctx:  # a new run: nothing raced yet
            self._ctx, self._partial, self._quotes = ctx, {}, None
        failures = self.failures(ctx, iteration, current)
        if not failures:
            ctx.event(iteration, "no_failures", {"hash": current.hash})
            return None
        full = self._no_room(ctx)
        if full:  # end as the stopper would have, without paying for a request first
            raise StopRun(full)
        stuck = self.no_prompt_fits(ctx)
        if stuck:
            raise StopRun(stuck)
        if self.racing(len(ctx.train)):
            return await self._race_step(ctx, iteration, current, failures)
        return await self._full_step(ctx, iteration, current, failures)

    def _no_room(self, ctx: RunContext) -> str | None:
        """Why no further prompt fits, as `ctx.out_of_room` says it; racing, a prompt needs a
        minibatch of task requests, not the whole training set."""
        m = self.minibatch(len(ctx.train))
        if ctx.asks_left() == 0 or m == len(ctx.train):
            return ctx.out_of_room()
        left = ctx.requests_left()
        if left is not None and left < m:
            return (
                f"budget: {ctx.path_requests()} of {ctx.limit(TaskBudget)} task requests "
                f"used, too few left to score a prompt on a {m}-item minibatch"
            )
        return None

    async def _full_step(
        self, ctx: RunContext, it: int, current: Candidate, failures: list[Record]
    ) -> Candidate:
        """The paper's iteration: every prompt scored on the whole training set."""
        n_candidates, n_failures = self.plan(ctx)
        if n_candidates == 0:
            why = "the budget holds the contrast prompt only"
            ctx.event(it, "skipped", {"step": "candidates", "why": why})
            return await self._full_contrast(ctx, it)
        chosen = self._sample(ctx, it, failures, n_failures, set())
        reasons = await self._reasons(ctx, it, current, chosen, self.kept_asks())
        if reasons:
            written = await self._write(
                ctx, it, current, reasons, n_candidates, keep=self.kept_asks(), held=set()
            )
            for i, text, subset in written:  # score in a fixed order: runs repeat
                await ctx.score(
                    text,
                    origin="candidate",
                    iteration=it,
                    parents=[current.hash],
                    meta={"index": i, "reasons": subset},
                )
        else:
            ctx.event(it, "skipped", {"step": "candidates", "why": "no usable reasons"})
        if not self.s.contrast:
            return ctx.best()
        return await self._full_contrast(ctx, it)

    async def _full_contrast(self, ctx: RunContext, it: int) -> Candidate:
        ranked = ctx.ranked()
        if not can_contrast(ranked):
            ctx.event(it, "skipped", {"step": "contrast", "why": "fewer than 2 distinct prompts"})
            return ranked[0]
        text, info = await self._ask_contrast(ctx, it, [(c, c.score) for c in ranked], keep=0)
        if text is None:
            ctx.event(it, "skipped", {"step": "contrast", **info})
            return ranked[0]
        new = await ctx.score(
            text,
            origin="contrast",
            iteration=it,
            parents=info.pop("parents"),
            meta={"patterns": info["patterns"]},
        )
        ctx.event(it, "contrast", {**info, "result": new.hash, "score": new.score})
        return new

    async def _race_step(
        self, ctx: RunContext, it: int, current: Candidate, failures: list[Record]
    ) -> Candidate:
        """The budget's iteration: candidates and the contrast prompt raced on a new shared
        minibatch with the complete prompts and the best unfinished earlier ones, then the
        prompts that can still be the best completed. The next prompt is the contrast prompt
        when it was completed, else the best complete prompt (carried forward, as when there
        is nothing to contrast)."""
        rounds = self.schedule(
            len(ctx.train),
            ctx.requests_left(),
            ctx.asks_left(),
            self._iterations_left(ctx, it),
            unfinished=len(self._partial),
            contrast_only=can_contrast(ctx.pool + list(self._partial.values())),
        )
        if not rounds:
            raise StopRun(self._why_nothing_fits(ctx))
        plan, later = rounds[0], rounds[1:]
        keep = sum(r.calls for r in later)  # calls the later iterations are planned to use
        batch = self._batch(ctx, it, plan.minibatch)
        held = {e.id for e in batch}
        ctx.event(it, "plan", {**plan.__dict__, "iterations_left": len(rounds)})
        await self._extend(ctx, it, batch, plan.history)
        if plan.candidates:
            chosen = self._sample(ctx, it, failures, plan.failures, held)
            c = int(self.s.contrast)
            reasons = await self._reasons(ctx, it, current, chosen, plan.candidates + c + keep)
            written = []
            if reasons:
                written = await self._write(
                    ctx, it, current, reasons, plan.candidates, keep=c + keep, held=held
                )
            else:
                ctx.event(it, "skipped", {"step": "candidates", "why": "no usable reasons"})
            for i, text, subset in written:
                meta = {"index": i, "reasons": subset}
                await self._try(ctx, it, text, batch, "candidate", [current.hash], meta)
        else:
            why = "the budget holds the contrast prompt only"
            ctx.event(it, "skipped", {"step": "candidates", "why": why})
        contrast = await self._race_contrast(ctx, it, batch, keep) if self.s.contrast else None
        done = await self._complete(ctx, it, batch, sum(r.requests for r in later))
        if contrast is not None and contrast.hash in done:
            return ctx.candidate(contrast.hash) or ctx.best()
        return ctx.best()

    async def _race_contrast(
        self, ctx: RunContext, it: int, batch: list[Example], keep: int
    ) -> Candidate | None:
        """The contrast step over every prompt that holds this minibatch, ranked on the items
        they all share; its prompt is scored on the minibatch like a candidate."""
        ranked = on_shared(self._on_batch(ctx, batch))
        if not can_contrast([c for c, _ in ranked]):
            ctx.event(it, "skipped", {"step": "contrast", "why": "fewer than 2 distinct prompts"})
            return None
        text, info = await self._ask_contrast(ctx, it, ranked, keep=keep)
        if text is None:
            ctx.event(it, "skipped", {"step": "contrast", **info})
            return None
        parents = info.pop("parents")
        new = await self._try(
            ctx, it, text, batch, "contrast", parents, {"patterns": info["patterns"]}
        )
        complete = ctx.candidate(new.hash) is not None
        data = {**info, "result": new.hash, "score": new.score, "text": new.text}
        ctx.event(it, "contrast", data | ({} if complete else {"items": len(new.records)}))
        return new

    def schedule(
        self,
        n: int,
        requests: int | None,
        calls: int | None,
        iterations: int,
        *,
        unfinished: int = 0,
        contrast_only: bool = False,
    ) -> list[Round]:
        """The plan of the iterations left under these limits (None: no limit; `requests` and
        `calls` are what is left). The most iterations, up to `iterations`, that each hold at
        least 2·top_k candidates (a contrast of top_k against top_k prompts the iteration wrote
        itself), every iteration as large as the limits allow; when not even one iteration
        holds that many, one with as many as fit. Each iteration keeps one spare call (a retry)
        and the requests of one completion to the whole training set. Empty when no candidate
        fits (with `contrast_only`, a lone contrast round when that fits)."""
        least = min(2 * self.s.top_k, self.s.candidates)
        for t in range(max(1, iterations), 0, -1):
            rounds = self._fit(n, requests, calls, t, unfinished)
            if rounds and (rounds[0].candidates >= least or t == 1):
                return rounds
        if contrast_only and self.s.contrast:
            lone = self._round(n, 0, min(self.history, unfinished), None, requests is not None)
            fits = lone is not None and (requests is None or lone.requests <= requests)
            if fits and (calls is None or calls >= 1):
                return [lone]
        return []

    def _fit(
        self, n: int, requests: int | None, calls: int | None, t: int, unfinished: int
    ) -> list[Round]:
        """`t` equal iterations with the most candidates the limits hold, or [] for none."""
        room = None if calls is None else calls // t
        for k in range(self.s.candidates, 0, -1):
            rounds = [
                self._round(
                    n,
                    k,
                    min(self.history, unfinished) if i == 0 else self.history,
                    room,
                    requests is not None,
                )
                for i in range(t)
            ]
            if any(r is None for r in rounds):
                continue
            if requests is not None and sum(r.requests for r in rounds) > requests:  # type: ignore[union-attr]
                continue
            return rounds  # type: ignore[return-value]
        return []

    def _round(
        self, n: int, k: int, history: int, room: int | None, budgeted: bool
    ) -> Round | None:
        """One iteration of `k` candidates, or None when `room` calls cannot hold it: the
        failures explained are what the candidates read (`subset_size` each), cut under a call
        cap down to two candidates' worth before a candidate is given up."""
        s = self.s
        m, c = self.minibatch(n), int(s.contrast)
        failures = min(s.max_failures, k * s.subset_size)
        if room is not None and k:
            free = (room - k - c - 1) * s.reasons_per_call  # one spare call kept
            if free < min(failures, 2 * s.subset_size):
                return None
            failures = min(failures, free)
        reason_calls = -(-failures // s.reasons_per_call) if k else 0
        completions = 1 if budgeted else s.promote
        history = history if m < n else 0
        return Round(
            candidates=k,
            failures=failures if k else 0,
            reason_calls=reason_calls,
            minibatch=m,
            history=history,
            calls=reason_calls + k + c,
            requests=(k + c + history) * m + completions * (n - m),
        )

    def _iterations_left(self, ctx: RunContext, it: int) -> int:
        total = getattr(ctx, "iterations", None)
        return max(1, total - it + 1) if total else 1

    def _why_nothing_fits(self, ctx: RunContext) -> str:
        m = self.minibatch(len(ctx.train))
        used, asks = ctx.optimizer.stats.requests, ctx.asks_left()
        if asks is not None and asks < self.least_limits(len(ctx.train))[1]:
            return f"max optimizer calls: {used} of {used + asks} used, too few for a candidate"
        return (
            f"budget: {ctx.path_requests()} of {ctx.limit(TaskBudget)} task requests used, too "
            f"few left for a candidate on a {m}-item minibatch and a completion"
        )

    def _batch(self, ctx: RunContext, it: int, m: int) -> list[Example]:
        """Iteration `it`'s shared minibatch: the next `m` items of one seeded order of the
        training set, so each iteration meets new items until the set is used up."""
        order = ctx.rng("minibatches").sample(list(ctx.train), len(ctx.train))
        k = (it - 1) % max(1, len(order) // m)
        return order[k * m : (k + 1) * m]

    def _on_batch(self, ctx: RunContext, batch: list[Example]) -> list[Candidate]:
        """Every prompt of this path that holds all of `batch`: the complete prompts, and the
        raced ones scored or carried onto it."""
        ids = {e.id for e in batch}
        cands = ctx.pool + [c for c in self._partial.values() if ctx.candidate(c.hash) is None]
        return [c for c in cands if ids <= {r.example_id for r in c.records}]

    async def _try(
        self,
        ctx: RunContext,
        it: int,
        text: str,
        batch: list[Example],
        origin: str,
        parents: list[str],
        meta: dict,
    ) -> Candidate:
        """`text` scored on `batch` (records it holds are reused), as a raced prompt holding
        every record this path has of it; a complete prompt is returned as it is."""
        h = prompt_hash(text)
        done = ctx.candidate(h)
        if done is not None:
            return done
        recs = await ctx.evaluate(
            text, batch, origin=origin, iteration=it, parents=parents, meta=meta
        )
        entry = self._partial.get(h)
        if entry is None:
            row = ctx.store.prompt(ctx.run_id, h)
            entry = Candidate.from_row(row)
            self._partial[h] = entry
        have = {r.example_id: r for r in entry.records} | {r.example_id: r for r in recs}
        entry.records = [have[e.id] for e in ctx.train if e.id in have]
        entry.score = sum(r.score for r in entry.records) / len(entry.records)
        return entry

    async def _extend(self, ctx: RunContext, it: int, batch: list[Example], k: int) -> None:
        """History: the `k` best unfinished prompts of earlier iterations (by their margin over
        the best complete prompt on the items they hold) scored on the new minibatch too, so
        the contrast compares them with this iteration's prompts on the same items."""
        if k <= 0 or not self._partial:
            return
        best, ids = ctx.best(), {e.id for e in batch}
        waiting = [
            c
            for c in self._partial.values()
            if ctx.candidate(c.hash) is None and not ids <= {r.example_id for r in c.records}
        ]
        for c in sorted(waiting, key=lambda c: (-versus(c, best), c.seq))[:k]:
            await self._try(ctx, it, c.text, batch, c.origin, c.parents, c.meta)

    async def _complete(
        self, ctx: RunContext, it: int, batch: list[Example], reserve: int
    ) -> list[str]:
        """Complete to the whole training set the raced prompts that can still be the best: at
        least as good as the best complete prompt on the items they hold, best margin first, at
        most `promote`, and only while the requests `reserve`d for later iterations are left.
        Records the race (every prompt's minibatch score, what was completed)."""
        best, ids = ctx.best(), {e.id for e in batch}
        racers = [c for c in self._partial.values() if ctx.candidate(c.hash) is None]
        order = sorted(racers, key=lambda c: (-versus(c, best), -c.score, c.seq))
        done: list[str] = []
        for c in order:
            if len(done) >= self.s.promote or versus(c, best) < 0:
                break
            left = ctx.requests_left()
            if left is not None and left - (len(ctx.train) - len(c.records)) < reserve:
                continue  # a prompt that holds more items may still fit
            await ctx.score(
                c.text, origin=c.origin, iteration=c.iteration, parents=c.parents, meta=c.meta
            )
            del self._partial[c.hash]
            done.append(c.hash)

        def on_items(c: Candidate) -> float:
            got = [r.score for r in c.records if r.example_id in ids]
            return sum(got) / max(1, len(got))

        shown = [
            {"hash": c.hash, "origin": c.origin, "score": v, "text": c.text[:300]}
            for c, v in on_shared(self._on_batch(ctx, batch))
        ]
        race = {"items": sorted(ids), "incumbent": on_items(best), "prompts": shown}
        ctx.event(it, "race", race | {"completed": done})
        return done

    def no_prompt_fits(self, ctx: RunContext) -> str | None:
        """Why this method cannot write another prompt under the call cap, or None. A candidate
        takes a reason call and a writing call; the contrast takes one call but needs two
        distinct prompts. With one call left and nothing to contrast (the only candidate written
        repeated the prompt it came from, say), every further iteration would ask nothing and
        score nothing: the run ends here and says why."""
        asks = ctx.asks_left()
        if asks is None or asks >= 2 or can_contrast(ctx.pool + list(self._partial.values())):
            return None
        used = ctx.optimizer.stats.requests
        return (
            f"max optimizer calls: {used} of {used + asks} used; a new candidate needs 2 "
            "(a reason and the candidate) and there are not two distinct prompts to contrast"
        )

    def plan(self, ctx: RunContext) -> tuple[int, int]:
        """The paper's iteration fitted to what is left: `full_plan` on this path's counts."""
        return self.full_plan(
            len(ctx.train), ctx.requests_left(), ctx.asks_left(), can_contrast(ctx.pool)
        )

    def full_plan(self, n: int, left: int | None, asks: int | None, can: bool) -> tuple[int, int]:
        """Candidates to write and failures to explain in an iteration that scores every prompt
        on the whole training set (`left` task requests and `asks` calls left, None: no limit).
        N and `max_failures` when they fit; when the task budget or the call cap cannot hold a
        whole iteration, fewer, so that the contrast step (the method's own step) still fits:
        one scoring and one call are kept for it. When only that is left and the pool has two
        prompts to contrast (`can`), no candidates (0): the last prompt the budget pays for is
        the contrast's."""
        s = self.s
        c = int(s.contrast)
        n_cand, n_fail = s.candidates, s.max_failures
        if left is not None:
            n_cand = min(n_cand, left // max(1, n) - c)
        if asks is not None:
            n_cand = min(n_cand, (asks - c) // 2)
        if n_cand < 1:
            n_cand = 0 if can and c else 1
        if asks is not None:
            n_fail = max(1, min(n_fail, (asks - n_cand - c) * s.reasons_per_call))
        return n_cand, self.read_cap(n_fail, n_cand)

    def read_cap(self, n_fail: int, n_cand: int) -> int:
        """`n_fail` failures to explain, cut to what `n_cand` candidates read (`subset_size`
        each): a reason no candidate reads is a call spent for nothing."""
        return min(n_fail, n_cand * self.s.subset_size)

    def kept_asks(self) -> int:
        """Optimizer calls the reasons and candidates leave under a call cap: the contrast
        step's one. `plan` counts first attempts; without this, retries of unusable answers
        could spend the contrast's call and the iteration would end without its contrast."""
        return int(self.s.contrast)

    def failures(self, ctx: RunContext, iteration: int, current: Candidate) -> list:
        """The failures that feed the reasons (adaptation narrows them)."""
        return ctx.failures(current)

    def answer_rule(self, ctx: RunContext) -> str:
        """What the meta-prompts say about the answer (adaptation may add the language)."""
        return ctx.task.answer_format()

    def _sample(
        self, ctx: RunContext, it: int, failures: list[Record], k: int, held: set[str]
    ) -> list[Record]:
        """The failures to explain: off this iteration's minibatch when enough are (its
        candidates are then raced on items their reasons did not see), drawn by label in the
        budget profile (every label the prompt gets wrong before any twice), at random in the
        paper's."""
        outside = [r for r in failures if r.example_id not in held]
        pool = outside if len(outside) >= min(k, len(failures)) else failures
        how = "random" if self.paper else "by_label"
        return sample_failures(pool, k, ctx.rng("failures", it), how)

    async def _reasons(
        self, ctx: RunContext, it: int, cur: Candidate, failures: list, keep: int
    ) -> list[dict]:
        """Reasons for `failures` (one a call, or `reasons_per_call` a call); outside the paper
        profile each comes with its failure (`case`), which the candidate request shows."""
        if self.s.reasons_per_call > 1:
            got = await self._reasons_batched(ctx, it, cur, failures, keep)
        else:
            got = await self._reasons_one_by_one(ctx, it, cur, failures, keep)
        ctx.event(it, "reasons", {"prompt": cur.hash, "reasons": got})
        if self.paper:
            return got
        by_id = {r.example_id: r for r in failures}
        return [{**r, "case": by_id.get(r["example_id"])} for r in got]

    async def _reasons_one_by_one(
        self, ctx: RunContext, it: int, cur: Candidate, failures: list, keep: int
    ) -> list[dict]:
        async def one(rec) -> dict | None:  # noqa: ANN001
            fields = {
                "prompt": cur.text,
                "input": rec.input,
                "output": rec.output[: self.shown_chars] or "(empty)",
                "extracted": rec.extracted or "(no answer found in the reply)",
                "target": rec.target,
                "answer_format": ctx.task.answer_format(),
            }
            reason, raw = await ctx.ask_parsed(
                self.t_reason,
                fields,
                parse_reason,
                temperature=self.reason_temperature,
                max_tokens=self.reason_max_tokens,
                label=("reason", it, cur.hash, rec.example_id),
                retries=self.s.max_retries,
                retry_temperature=max(0.7, self.reason_temperature),
                keep=keep,
                stop=("</reason>",),
            )
            if reason:
                return {"example_id": rec.example_id, "reason": reason}
            ctx.event(
                it, "skipped", {"step": "reason", "example_id": rec.example_id, "raw": raw[:500]}
            )
            return None

        return [r for r in await gather_asks(one(r) for r in failures) if r]

    async def _reasons_batched(
        self, ctx: RunContext, it: int, cur: Candidate, failures: list, keep: int
    ) -> list[dict]:
        """`reasons_per_call` failures explained in one call each; the i-th <reason> of an
        answer belongs to its i-th failure, and a chunk whose answer holds fewer reasons than
        failures keeps the ones it has."""
        k = self.s.reasons_per_call
        chunks = [failures[i : i + k] for i in range(0, len(failures), k)]

        async def one(chunk: list) -> list[dict]:
            cases = "\n\n".join(
                f"Question {n}:\n<question>\n{rec.input}\n</question>\n"
                f"The model's reply: {rec.output[: self.shown_chars] or '(empty)'}\n"
                f"The answer read from the reply: {rec.extracted or '(none found)'}\n"
                f"The correct answer: {rec.target}"
                for n, rec in enumerate(chunk, 1)
            )
            fields = {
                "prompt": cur.text,
                "n": str(len(chunk)),
                "cases": cases,
                "answer_format": ctx.task.answer_format(),
            }
            found, raw = await ctx.ask_parsed(
                self.t_reasons,
                fields,
                parse_reasons,
                temperature=self.reason_temperature,
                max_tokens=self.reason_max_tokens * len(chunk),
                label=("reasons", it, cur.hash, tuple(r.example_id for r in chunk)),
                retries=self.s.max_retries,
                retry_temperature=max(0.7, self.reason_temperature),
                keep=keep,
            )
            if not found:
                ids = [r.example_id for r in chunk]
                ctx.event(it, "skipped", {"step": "reasons", "example_ids": ids, "raw": raw[:500]})
                return []
            return [
                {"example_id": rec.example_id, "reason": reason}
                for rec, reason in zip(chunk, found, strict=False)
            ]

        return [r for rs in await gather_asks(one(c) for c in chunks) if rs for r in rs]

    def _cut(self, text: str) -> str:
        return " ".join(str(text).split())[: self.shown_chars]

    def _shown_reason(self, r: dict) -> str:
        """One reason as the candidate request lists it: outside the paper profile, after the
        question it explains, its correct answer and the model's reply."""
        case = r.get("case")
        if case is None:
            return f"- {r['reason']}"
        reply = self._cut(case.output)[: self.shown_chars // 2] or "(empty)"
        return (
            f"- Question: {self._cut(case.input)}\n  Correct answer: {case.target}\n"
            f"  The model replied: {reply}\n  What went wrong: {r['reason']}"
        )

    def _labelled(self, ctx: RunContext, label: tuple, held: set[str]) -> str:
        """`examples` training questions with their correct answers for a writer's request
        (seeded by `label`, covering the labels in turn, off the minibatch when it can); ""
        when off, so the request is the paper's word for word."""
        k = self.s.examples
        if k <= 0:
            return ""
        pool = [e for e in ctx.train if e.id not in held] or list(ctx.train)
        chosen = sample_failures(pool, k, ctx.rng("examples", *label), "by_label")
        shown = "\n\n".join(
            f"<question>\n{self._cut(ctx.task.render(e))}\n</question>\nCorrect answer: {e.target}"
            for e in chosen
        )
        return f"\n\nSome questions of this task, each with its correct answer:\n\n{shown}"

    async def _write(
        self,
        ctx: RunContext,
        it: int,
        cur: Candidate,
        reasons: list[dict],
        n: int,
        *,
        keep: int,
        held: set[str],
    ) -> list[tuple[int, str, list[str]]]:
        """`n` candidates, each from its own seeded subset of the reasons: the usable ones that
        pass the format guard (repaired or not) and are new to this path, in a fixed order."""
        s = self.s
        shared = {"answer_format": self.answer_rule(ctx)}

        async def write(i: int) -> tuple[int, str | None, list[str], str]:
            subset = ctx.rng("subset", it, i).sample(reasons, min(s.subset_size, len(reasons)))
            listed = "\n".join(self._shown_reason(r) for r in subset)
            examples = self._labelled(ctx, ("candidate", it, i), held)
            fields = {"prompt": cur.text, "reasons": listed, "examples": examples, **shared}
            text, raw = await ctx.ask_parsed(
                self.t_candidate,
                fields,
                parse_prompt,
                temperature=s.candidate_temperature,
                max_tokens=self.candidate_max_tokens,
                label=("candidate", it, cur.hash, i),
                retries=s.max_retries,
                stop=("</prompt>",),
                keep=keep,
            )
            return i, text, [r["example_id"] for r in subset], raw

        written = [w for w in await gather_asks(write(i) for i in range(n)) if w is not None]
        seen = {c.text.strip() for c in ctx.pool} | {c.text.strip() for c in self._partial.values()}
        new: list[tuple[int, str, list[str]]] = []
        for i, text, subset, raw in written:
            if text is None:
                ctx.event(it, "skipped", {"step": "candidate", "index": i, "raw": raw[:500]})
                continue
            text = self._guarded(ctx, it, text, "candidate", i)
            if text is None:
                continue
            if text.strip() in seen:
                ctx.event(it, "duplicate", {"step": "candidate", "index": i})
                continue
            seen.add(text.strip())
            new.append((i, text, subset))
        return new

    def _quote_finder(self, ctx: RunContext) -> guard.QuoteFinder:
        if self._quotes is None:
            self._quotes = guard.QuoteFinder([ctx.task.render(e) for e in ctx.train])
        return self._quotes

    def _guarded(self, ctx: RunContext, it: int, text: str, step: str, index: int) -> str | None:
        """`text` as the format guard leaves it: as written, repaired, or None (rejected); a
        repair or a rejection is recorded as a `guard` event. Without the guard, as written."""
        if not self.s.guard:
            return text
        verdict = guard.check(text, ctx.task, self._quote_finder(ctx))
        if verdict.action == "keep":
            return text
        data = {"step": step, "index": index, "action": verdict.action, "why": verdict.why}
        ctx.event(it, "guard", data | {"text": text[:500]})
        return verdict.text if verdict.action == "repair" else None

    def _passes(self, ctx: RunContext, text: str) -> bool:
        return not self.s.guard or guard.passes(text, ctx.task, self._quote_finder(ctx))

    def split_good_bad(self, ranked: list[Candidate]) -> tuple[list[Candidate], list[Candidate]]:
        """Top k and bottom k, disjoint; equal halves when the pool is smaller than 2k."""
        k = min(self.s.top_k, len(ranked) // 2)
        return ranked[:k], ranked[-k:] if k else []

    def _contrast_extras(
        self, ctx: RunContext, it: int, good: list[Candidate], bad: list[Candidate]
    ) -> str:
        """What the contrast request shows besides the prompts, outside the paper profile:
        labelled training questions, and the questions the good prompts answer right and the
        bad ones wrong ("" in the paper profile, so the request is the paper's)."""
        shown = self._labelled(ctx, ("contrast", it), set())
        k = 0 if self.paper else self.contrast_items
        pairs = telling_examples(good, bad, k, ctx.rng("telling", it))
        if not pairs:
            return shown
        told = "\n\n".join(
            f"<question>\n{self._cut(right.input)}\n</question>\n"
            f"Correct answer: {right.target}. A low-scoring instruction led to: "
            f"{wrong.extracted or '(no answer)'}."
            for right, wrong in pairs
        )
        return (
            f"{shown}\n\nQuestions that the high-scoring instructions answer correctly and the "
            f"low-scoring ones do not, each with its correct answer:\n\n{told}"
        )

    async def _ask_contrast(
        self, ctx: RunContext, it: int, ranked: list[tuple[Candidate, float]], keep: int
    ) -> tuple[str | None, dict]:
        """The contrast request over `ranked` (prompts with the scores they are ranked by):
        the good and bad prompts are taken from those that pass the format guard when two do
        (near misses, not a prompt that names no label). Returns the new prompt (None, with
        `why` in the info, when unusable or rejected) and what the event records."""
        s = self.s
        usable = [(c, v) for c, v in ranked if self._passes(ctx, c.text)]
        if not can_contrast([c for c, _ in usable]):
            usable = ranked
        score = {c.hash: v for c, v in usable}
        good, bad = self.split_good_bad([c for c, _ in usable])

        def show(cs: list[Candidate]) -> str:
            return "\n\n".join(
                f"Instruction {n} (score {score[c.hash]:.2f}):\n<prompt>\n{c.text}\n</prompt>"
                for n, c in enumerate(cs, 1)
            )

        fields = {
            "good": show(good),
            "bad": show(bad),
            "examples": self._contrast_extras(ctx, it, good, bad),
            "answer_format": self.answer_rule(ctx),
        }
        text, raw = await ctx.ask_parsed(
            self.t_contrast,
            fields,
            parse_strict,
            temperature=s.contrast_temperature,
            max_tokens=self.contrast_max_tokens,
            label=("contrast", it),
            retries=s.max_retries,
            stop=("</prompt>",),
            keep=keep,
        )
        info: dict = {
            "good": [[c.hash, score[c.hash]] for c in good],
            "bad": [[c.hash, score[c.hash]] for c in bad],
            "texts": {c.hash: c.text for c in good + bad},
            "patterns": analysis(raw),
            "raw": raw[:2000],
            "parents": [c.hash for c in good + bad],
        }
        if text is None:
            return None, info | {"why": "no prompt in the answer"}
        text = self._guarded(ctx, it, text, "contrast", 0)
        if text is None:
            return None, info | {"why": "rejected by the format guard"}
        return text, info
