"""Learning from Contrastive Prompts (LCP), after Li et al. 2024 (arXiv 2409.15199).

One iteration from the current prompt p_t (see docs/method.md):
  1. score p_t on the training set and collect its failures;
  2. ask the optimizer model for one short reason per failure (at most `max_failures`, seeded);
  3. N times: give a different seeded random subset of `subset_size` reasons and ask, at a
     creative temperature, for a prompt that fixes what those failures have in common;
  4. score every new candidate; the pool keeps every prompt of the run with its score (history);
  5. contrast: show the top-k prompts against the bottom-k and ask what separates them and for a
     new prompt p_{t+1} built on that; score it. Last and best-on-train are both reported.

Choices the paper leaves open, and ours (all parameters): the defaults table in docs/method.md.
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

from ..data.extract import answer_words, names_an_answer
from ..data.task import Record
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
from .parsing import analysis, parse_prompt, parse_reason, parse_reasons, parse_strict


@dataclass
class LCPSettings:
    candidates: int = 10  # N
    top_k: int = 3
    subset_size: int = 5  # reasons per candidate
    max_failures: int = 20  # failures sent for reasons per iteration
    reason_temperature: float = 0.0
    candidate_temperature: float = 1.0
    contrast_temperature: float = 0.7
    max_retries: int = 2  # extra tries for an unusable optimizer answer
    reason_max_tokens: int = 120
    candidate_max_tokens: int = 320
    contrast_max_tokens: int = 600
    shown_output_chars: int = 400  # how much of a wrong output the reason request quotes
    fit_budget: bool = True  # fewer candidates/reasons when a budget cannot hold an iteration
    # which failures are explained: "random" (the paper: a random sample), or "by_label" (in
    # turn from each correct answer's failures, so that the reasons cover every label the prompt
    # gets wrong instead of the most frequent one)
    failure_sampling: str = "random"
    # failures explained per optimizer call: 1 is the paper (one call a failure); more explain
    # several failures in one call, which leaves a call cap room for candidates and iterations
    reasons_per_call: int = 1
    # candidates screened on a minibatch first: each is scored on `screen` seeded training items
    # (the same items for every candidate of an iteration), and only the `promote` best there,
    # if not worse than the current prompt on those items, are scored on the whole training
    # set. 0 is the paper: every candidate is scored on the whole training set
    screen: int = 0
    promote: int = 2
    # training questions shown in the contrast step beside the prompts: up to this many that
    # the high-scoring prompts answer right and the low-scoring ones wrong, each with its
    # correct answer and the wrong one given. The names of labels rarely say what they mean
    # ("expression" is an abbreviation in TREC); these questions show it. 0 is the paper: the
    # contrast sees the prompts and their scores only
    contrast_examples: int = 0
    # the candidate step shows each reason with the question it explains and that question's
    # correct answer, instead of the reason alone (the paper). The candidate writer then sees
    # what the task's questions and labels look like, as OPRO's and APE's writers do
    reasons_with_questions: bool = False
    # a prompt the optimizer writes (candidate or contrast) that names none of the task's
    # answers (its labels, or Yes and No, ...) gets one sentence that names them appended. The
    # meta-prompts ask every prompt to state the answer form; a small optimizer model sometimes
    # writes "Classify the input according to the given category." instead, and every reply to
    # such a prompt misses the label set. False is the paper: the prompt is scored as written
    state_labels: bool = False
    # explain no more failures than the candidates read: each candidate request shows
    # `subset_size` reasons, so N candidates read at most N x subset_size. It binds when a budget
    # leaves few candidates (one candidate reads 5 reasons; without the cap, most of a 20-call
    # cap went on reasons no candidate read). The failures explained are still a seeded sample,
    # so a candidate sees a random `subset_size` of them either way. False is the paper's
    # schedule: `max_failures` reasons whatever the number of candidates
    read_reasons_only: bool = True


SAMPLINGS = ("random", "by_label")


def sample_failures(failures: list, n: int, rng: random.Random, how: str) -> list:
    """`n` failures to explain. "random": a random sample. "by_label": the failures grouped by
    their correct answer, each group shuffled, then taken one from each group in turn (groups in
    a shuffled order), so every label the prompt gets wrong is explained before any twice."""
    if how not in SAMPLINGS:
        raise ValueError(f"failure_sampling must be one of {', '.join(SAMPLINGS)}, not {how!r}")
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


def screen_group(ev: dict) -> dict:
    """One iteration's screening as the report shows it: every candidate's minibatch score."""
    d = ev["data"]
    promoted = set(d["promoted"])
    lines = [
        f"candidate {i}: {score:.2f}" + (" (scored on the whole training set)" * (i in promoted))
        for i, score in d["scores"]
    ]
    title = (
        f"Iteration {ev['iteration']}: {len(lines)} candidates on {len(d['items'])} items "
        f"(current prompt {d['current']:.2f})"
    )
    return group(title, lines)


class LCP(BaseOptimizer):
    name = "lcp"
    title = (
        "LCP: candidates from failure reasons, then a prompt from contrasting good and bad prompts"
    )
    origins = {"candidate": "#4c78a8", "contrast": "#e45756"}
    Settings = LCPSettings
    stored_before = {"read_reasons_only": False}

    def __init__(self, settings: LCPSettings | None = None, **overrides: object) -> None:
        super().__init__(settings, **overrides)
        if self.s.failure_sampling not in SAMPLINGS:
            raise ValueError(
                f"failure_sampling must be one of {', '.join(SAMPLINGS)}, "
                f"not '{self.s.failure_sampling}'"
            )
        if self.s.reasons_per_call < 1:
            raise ValueError(f"reasons_per_call must be at least 1, not {self.s.reasons_per_call}")
        if self.s.contrast_examples < 0:
            raise ValueError(f"contrast_examples must be 0 or more, not {self.s.contrast_examples}")
        if self.s.screen < 0 or self.s.promote < 1:
            raise ValueError(
                f"screen must be 0 or more and promote at least 1, not {self.s.screen} "
                f"and {self.s.promote}"
            )
        self.t_reason = template("lcp_reason.txt")
        self.t_reasons = template("lcp_reasons.txt")
        self.t_candidate = template("lcp_candidate.txt")
        self.t_contrast = template("lcp_contrast.txt")

    def project(self, n_train: int, iterations: int) -> dict[str, int]:
        """Every iteration in full: N candidates and one contrast prompt scored on the whole
        training set; min(failures, |train|) reasons (no more than the candidates read, with
        `read_reasons_only`), N candidates and one contrast asked."""
        s = self.s
        explained = self.read_cap(min(s.max_failures, n_train), s.candidates)
        per_iteration = n_train * (s.candidates + 1)
        if s.screen:
            k = min(s.screen, n_train)
            per_iteration = s.candidates * k + min(s.promote, s.candidates) * (n_train - k)
            per_iteration += n_train
        return {
            "task_requests": n_train + iterations * per_iteration,
            "optimizer_requests": iterations
            * (-(-explained // s.reasons_per_call) + s.candidates + 1),
        }

    def report_data(self, events: Callable[[str], list[dict]], by_hash: dict) -> list[dict]:
        def prompts(pairs: list) -> list[tuple[str, str]]:
            return [(f"{s:.2f}", by_hash.get(h, {}).get("text", h)) for h, s in pairs]

        contrasts = []
        for ev in events("contrast"):
            d, it = ev["data"], ev["iteration"]
            result = by_hash.get(d["result"], {}).get("text", "")
            contrasts += [
                group(
                    f"Iteration {it}: high-scoring prompts", prompts(d["good"]), open=True, pre=True
                ),
                group(
                    f"Iteration {it}: low-scoring prompts", prompts(d["bad"]), open=True, pre=True
                ),
                group(
                    f"Iteration {it}: patterns the optimizer named",
                    [d.get("patterns") or "(none given)"],
                    open=True,
                    pre=True,
                ),
                group(
                    f"Iteration {it}: new prompt (train {d['score']:.2f})",
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
        screened = [screen_group(ev) for ev in events("screened")]
        if screened:
            out.append(section("Screening on a minibatch", screened, empty="None."))
        return out

    async def step(self, ctx: RunContext, iteration: int, current: Candidate) -> Candidate | None:
        failures = self.failures(ctx, iteration, current)
        if not failures:
            ctx.event(iteration, "no_failures", {"hash": current.hash})
            return None
        full = ctx.out_of_room() if self.s.fit_budget else None
        if full:  # end as the stopper would have, without paying for a request first
            raise StopRun(full)
        stuck = self.no_prompt_fits(ctx)
        if stuck:
            raise StopRun(stuck)
        n_candidates, n_failures = self.plan(ctx)
        if n_candidates == 0:
            why = "the budget holds the contrast prompt only"
            ctx.event(iteration, "skipped", {"step": "candidates", "why": why})
            return await self._contrast(ctx, iteration)
        chosen = sample_failures(
            failures, n_failures, ctx.rng("failures", iteration), self.s.failure_sampling
        )
        reasons = await self._reasons(ctx, iteration, current, chosen)
        if reasons:
            if self.s.reasons_with_questions:
                by_id = {r.example_id: r for r in chosen}
                reasons = [{**r, "case": by_id.get(r["example_id"])} for r in reasons]
            await self._candidates(ctx, iteration, current, reasons, n_candidates)
        else:
            ctx.event(iteration, "skipped", {"step": "candidates", "why": "no usable reasons"})
        return await self._contrast(ctx, iteration)

    def no_prompt_fits(self, ctx: RunContext) -> str | None:
        """Why this method cannot write another prompt under the call cap, or None. A candidate
        takes a reason call and a writing call; the contrast takes one call but needs two
        distinct prompts. With one call left and nothing to contrast (the only candidate written
        repeated the prompt it came from, say), every further iteration would ask nothing and
        score nothing: the run ends here and says why."""
        asks = ctx.asks_left()
        if asks is None or asks >= 2 or can_contrast(ctx.pool):
            return None
        used = ctx.optimizer.stats.requests
        return (
            f"max optimizer calls: {used} of {used + asks} used; a new candidate needs 2 "
            "(a reason and the candidate) and there are not two distinct prompts to contrast"
        )

    def plan(self, ctx: RunContext) -> tuple[int, int]:
        """Candidates to write and failures to explain this iteration. With the defaults N and
        `max_failures`; when the task budget or the optimizer-call cap cannot hold a whole
        iteration, fewer, so that the contrast step (the method's own step) still fits:
        one scoring and one call are kept for it. When only that is left and the pool has two
        prompts to contrast, no candidates (0): the last prompt the budget pays for is the
        contrast's."""
        s = self.s
        n_cand, n_fail = s.candidates, s.max_failures
        if not s.fit_budget:
            return n_cand, n_fail
        left, n = ctx.requests_left(), max(1, len(ctx.train))
        if left is not None and s.screen:  # minibatches, the promoted in full, the contrast
            k = min(s.screen, n)
            n_cand = min(n_cand, (left - n - s.promote * (n - k)) // k)
        elif left is not None:  # candidates in full, the contrast
            n_cand = min(n_cand, ctx.scorings_left() - 1)
        asks = ctx.asks_left()
        if asks is not None:
            n_cand = min(n_cand, (asks - 1) // 2)
        if n_cand < 1:
            n_cand = 0 if can_contrast(ctx.pool) else 1
        if asks is not None:
            n_fail = max(1, min(n_fail, (asks - n_cand - 1) * s.reasons_per_call))
        return n_cand, self.read_cap(n_fail, n_cand)

    def read_cap(self, n_fail: int, n_cand: int) -> int:
        """`n_fail` failures to explain, cut with `read_reasons_only` to what `n_cand`
        candidates read (`subset_size` each): the one rule for the plan and the projection."""
        if not self.s.read_reasons_only:
            return n_fail
        return min(n_fail, n_cand * self.s.subset_size)

    def kept_asks(self) -> int:
        """Optimizer calls the reasons and candidates leave under a call cap: the contrast
        step's one. `plan` counts first attempts; without this, retries of unusable answers
        could spend the contrast's call and the iteration would end without its contrast."""
        return 1 if self.s.fit_budget else 0

    def failures(self, ctx: RunContext, iteration: int, current: Candidate) -> list:
        """The failures that feed the reasons (adaptation narrows them)."""
        return ctx.failures(current)

    def answer_rule(self, ctx: RunContext) -> str:
        """What the meta-prompts say about the answer (adaptation may add the language)."""
        return ctx.task.answer_format()

    async def _reasons(
        self, ctx: RunContext, it: int, cur: Candidate, failures: list
    ) -> list[dict]:
        if self.s.reasons_per_call > 1:
            return await self._reasons_batched(ctx, it, cur, failures)

        async def one(rec) -> dict | None:  # noqa: ANN001
            fields = {
                "prompt": cur.text,
                "input": rec.input,
                "output": rec.output[: self.s.shown_output_chars] or "(empty)",
                "extracted": rec.extracted or "(no answer found in the reply)",
                "target": rec.target,
                "answer_format": ctx.task.answer_format(),
            }
            reason, raw = await ctx.ask_parsed(
                self.t_reason,
                fields,
                parse_reason,
                temperature=self.s.reason_temperature,
                max_tokens=self.s.reason_max_tokens,
                label=("reason", it, cur.hash, rec.example_id),
                retries=self.s.max_retries,
                retry_temperature=max(0.7, self.s.reason_temperature),
                keep=self.kept_asks(),
                stop=("</reason>",),
            )
            if reason:
                return {"example_id": rec.example_id, "reason": reason}
            ctx.event(
                it, "skipped", {"step": "reason", "example_id": rec.example_id, "raw": raw[:500]}
            )
            return None

        got = [r for r in await gather_asks(one(r) for r in failures) if r]
        ctx.event(it, "reasons", {"prompt": cur.hash, "reasons": got})
        return got

    async def _reasons_batched(
        self, ctx: RunContext, it: int, cur: Candidate, failures: list
    ) -> list[dict]:
        """`reasons_per_call` failures explained in one call each; the i-th <reason> of an
        answer belongs to its i-th failure, and a chunk whose answer holds fewer reasons than
        failures keeps the ones it has."""
        k = self.s.reasons_per_call
        chunks = [failures[i : i + k] for i in range(0, len(failures), k)]

        async def one(chunk: list) -> list[dict]:
            cases = "\n\n".join(
                f"Question {n}:\n<question>\n{rec.input}\n</question>\n"
                f"The model's reply: {rec.output[: self.s.shown_output_chars] or '(empty)'}\n"
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
                temperature=self.s.reason_temperature,
                max_tokens=self.s.reason_max_tokens * len(chunk),
                label=("reasons", it, cur.hash, tuple(r.example_id for r in chunk)),
                retries=self.s.max_retries,
                retry_temperature=max(0.7, self.s.reason_temperature),
                keep=self.kept_asks(),
            )
            if not found:
                ids = [r.example_id for r in chunk]
                ctx.event(it, "skipped", {"step": "reasons", "example_ids": ids, "raw": raw[:500]})
                return []
            return [
                {"example_id": rec.example_id, "reason": reason}
                for rec, reason in zip(chunk, found, strict=False)
            ]

        got = [r for rs in await gather_asks(one(c) for c in chunks) if rs for r in rs]
        ctx.event(it, "reasons", {"prompt": cur.hash, "reasons": got})
        return got

    def _shown_reason(self, r: dict) -> str:
        """One reason as the candidate request lists it; with `reasons_with_questions`, after
        the question it explains and its correct answer."""
        case = r.get("case")
        if case is None:
            return f"- {r['reason']}"
        question = " ".join(case.input.split())[: self.s.shown_output_chars]
        return (
            f"- Question: {question}\n  Correct answer: {case.target}\n"
            f"  What went wrong: {r['reason']}"
        )

    async def _candidates(
        self, ctx: RunContext, it: int, cur: Candidate, reasons: list[dict], n: int
    ) -> None:
        s = self.s
        shared = {"answer_format": self.answer_rule(ctx)}

        async def write(i: int) -> tuple[int, str | None, list[str], str]:
            subset = ctx.rng("subset", it, i).sample(reasons, min(s.subset_size, len(reasons)))
            listed = "\n".join(self._shown_reason(r) for r in subset)
            fields = {"prompt": cur.text, "reasons": listed, **shared}
            text, raw = await ctx.ask_parsed(
                self.t_candidate,
                fields,
                parse_prompt,
                temperature=s.candidate_temperature,
                max_tokens=s.candidate_max_tokens,
                label=("candidate", it, cur.hash, i),
                retries=s.max_retries,
                stop=("</prompt>",),
                keep=self.kept_asks(),
            )
            return i, text, [r["example_id"] for r in subset], raw

        written = [w for w in await gather_asks(write(i) for i in range(n)) if w is not None]
        seen = {c.text.strip() for c in ctx.pool}
        new: list[tuple[int, str, list[str]]] = []
        for i, text, subset, raw in written:  # score in a fixed order: runs repeat
            if text is None:
                ctx.event(it, "skipped", {"step": "candidate", "index": i, "raw": raw[:500]})
                continue
            text = self._stated(ctx, it, text, "candidate", i)
            if text.strip() in seen:
                ctx.event(it, "duplicate", {"step": "candidate", "index": i})
                continue
            seen.add(text.strip())
            new.append((i, text, subset))
        if s.screen:
            new = await self._screen(ctx, it, cur, new)
        for i, text, subset in new:
            await ctx.score(
                text,
                origin="candidate",
                iteration=it,
                parents=[cur.hash],
                meta={"index": i, "reasons": subset},
            )

    def _stated(self, ctx: RunContext, it: int, text: str, step: str, index: int) -> str:
        """With `state_labels`, `text` with a sentence naming the task's answers when it names
        none of them (recorded as a `labels_stated` event); otherwise `text` as written."""
        if not self.s.state_labels:
            return text
        words = answer_words(ctx.task.answer_type, ctx.task.labels)
        if not words or names_an_answer(text, words):
            return text
        ctx.event(it, "labels_stated", {"step": step, "index": index})
        return f"{text.rstrip()}\n\nAnswer with {ctx.task.answer_format()}."

    async def _screen(
        self, ctx: RunContext, it: int, cur: Candidate, new: list[tuple[int, str, list[str]]]
    ) -> list[tuple[int, str, list[str]]]:
        """The candidates worth the whole training set: each scored on the same seeded
        minibatch, the `promote` best kept if not worse there than the current prompt (whose
        records on those items are known), and only as many as the task budget can still
        score in full with the contrast prompt after them."""
        n, k = len(ctx.train), min(self.s.screen, len(ctx.train))
        if k >= n or not new:
            return new
        batch = ctx.rng("screen", it).sample(ctx.train, k)
        ids = {e.id for e in batch}
        base = sum(r.score for r in cur.records if r.example_id in ids) / k
        scores = []
        for i, text, subset in new:
            meta = {"index": i, "reasons": subset, "screen": True}
            recs = await ctx.evaluate(
                text, batch, origin="candidate", iteration=it, parents=[cur.hash], meta=meta
            )
            scores.append(sum(r.score for r in recs) / k)
        order = sorted(range(len(new)), key=lambda j: (-scores[j], new[j][0]))
        room = self.s.promote
        left = ctx.requests_left()
        if left is not None:
            room = min(room, max(0, (left - n) // (n - k)))
        kept = [j for j in order[:room] if scores[j] >= base]
        ctx.event(
            it,
            "screened",
            {
                "items": sorted(ids),
                "current": base,
                "scores": [[new[j][0], scores[j]] for j in range(len(new))],
                "promoted": [new[j][0] for j in kept],
            },
        )
        return [new[j] for j in sorted(kept)]

    def split_good_bad(self, ranked: list[Candidate]) -> tuple[list[Candidate], list[Candidate]]:
        """Top k and bottom k, disjoint; equal halves when the pool is smaller than 2k."""
        k = min(self.s.top_k, len(ranked) // 2)
        return ranked[:k], ranked[-k:] if k else []

    def _examples(
        self, ctx: RunContext, it: int, good: list[Candidate], bad: list[Candidate]
    ) -> str:
        """The `contrast_examples` block of the contrast request ("" when off, so the request
        is the paper's, word for word)."""
        pairs = telling_examples(good, bad, self.s.contrast_examples, ctx.rng("telling", it))
        if not pairs:
            return ""
        cut = self.s.shown_output_chars
        shown = "\n\n".join(
            f"<question>\n{right.input[:cut]}\n</question>\n"
            f"Correct answer: {right.target}. A low-scoring instruction led to: "
            f"{wrong.extracted or '(no answer)'}."
            for right, wrong in pairs
        )
        return (
            "\n\nQuestions that the high-scoring instructions answer correctly and the "
            f"low-scoring ones do not, each with its correct answer:\n\n{shown}"
        )

    async def _contrast(self, ctx: RunContext, it: int) -> Candidate:
        s = self.s
        ranked = ctx.ranked()
        if not can_contrast(ranked):
            ctx.event(it, "skipped", {"step": "contrast", "why": "fewer than 2 distinct prompts"})
            return ranked[0]
        good, bad = self.split_good_bad(ranked)

        def show(cs: list[Candidate]) -> str:
            return "\n\n".join(
                f"Instruction {n} (score {c.score:.2f}):\n<prompt>\n{c.text}\n</prompt>"
                for n, c in enumerate(cs, 1)
            )

        fields = {
            "good": show(good),
            "bad": show(bad),
            "examples": self._examples(ctx, it, good, bad),
            "answer_format": self.answer_rule(ctx),
        }
        text, raw = await ctx.ask_parsed(
            self.t_contrast,
            fields,
            parse_strict,
            temperature=s.contrast_temperature,
            max_tokens=s.contrast_max_tokens,
            label=("contrast", it),
            retries=s.max_retries,
            stop=("</prompt>",),
        )
        info = {
            "good": [[c.hash, c.score] for c in good],
            "bad": [[c.hash, c.score] for c in bad],
            "patterns": analysis(raw),
            "raw": raw[:2000],
        }
        if text is None:
            ctx.event(it, "skipped", {"step": "contrast", "why": "no prompt in the answer", **info})
            return ranked[0]
        text = self._stated(ctx, it, text, "contrast", 0)
        new = await ctx.score(
            text,
            origin="contrast",
            iteration=it,
            parents=[c.hash for c in good + bad],
            meta={"patterns": info["patterns"]},
        )
        ctx.event(it, "contrast", {**info, "result": new.hash, "score": new.score})
        return new
