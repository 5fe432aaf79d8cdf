"""LCP's bookkeeping with a scripted LLM: ranking, pool/history, subsets, dedup, budgets, skips."""

from __future__ import annotations

import json
import re
import sqlite3

import pytest

from contrastprompt import Task, optimize
from contrastprompt.errors import UserError
from contrastprompt.optimizers import LCP
from contrastprompt.optimizers.base import Candidate

from .scripted import ScriptedBackend, default_reply, yes_no_examples


def make(n: int = 40) -> tuple[Task, ScriptedBackend]:
    exs = yes_no_examples(n)
    return Task("scripted", exs), ScriptedBackend(exs)


def run(tmp_path, backend, task, **kw):
    kw.setdefault("n_train", 10)
    kw.setdefault("test_limit", 10)
    return optimize(task, "Answer the question.", model=backend, run_dir=tmp_path / "run", **kw)


def cand(seq: int, score: float, text: str = "x") -> Candidate:
    return Candidate(
        text=text, hash=str(seq), origin="candidate", iteration=1, seq=seq, score=score
    )


def test_ranking_ties_break_on_creation_order_not_length():
    long = "a much longer prompt text"
    cs = [cand(0, 0.5, long), cand(1, 0.7, long), cand(2, 0.5, "a"), cand(3, 0.7, "a")]
    # at equal score the earlier prompt ranks first, even when a later one is shorter
    assert [c.seq for c in sorted(cs, key=Candidate.rank_key)] == [1, 3, 0, 2]


@pytest.mark.parametrize("pool,k", [(7, 3), (6, 3), (5, 2), (4, 2), (3, 1), (2, 1)])
def test_good_and_bad_are_disjoint(pool, k):
    ranked = sorted([cand(i, i / 10) for i in range(pool)], key=Candidate.rank_key)
    good, bad = LCP(top_k=3).split_good_bad(ranked)
    assert len(good) == len(bad) == k
    assert not {c.seq for c in good} & {c.seq for c in bad}
    assert min(c.score for c in good) >= max(c.score for c in bad)


def test_full_run_pool_history_and_contrast(tmp_path):
    task, backend = make()
    res = run(tmp_path, backend, task, iterations=2, candidates=4, top_k=2)
    origins = [c["origin"] for c in res.candidates]
    assert origins.count("initial") == 1 and origins.count("contrast") >= 1
    assert res.best_train_score == max(c["score"] for c in res.candidates)
    assert "GOOD9" in res.best_prompt and res.best_train_score == pytest.approx(0.9)
    assert res.stop_reason.startswith("iterations")
    # history: iteration 2's contrast sees prompts created in iteration 1
    contrasts = [r for k, r in backend.requests if k == "contrast"]
    first_iter = [c["text"] for c in res.candidates if c["iteration"] == 1]
    assert any(t in contrasts[-1].messages[0].content for t in first_iter)
    # every prompt was scored exactly once on the training set
    db = sqlite3.connect(tmp_path / "run" / "store.sqlite")
    n = db.execute("SELECT count(*) FROM evaluations WHERE split='train'").fetchone()[0]
    assert n == len(res.candidates) * 10
    assert backend.counts["task"] == n + 3 * 10 - 10 * (
        len({res.initial_prompt, res.last_prompt, res.best_prompt}) < 3
    )  # noqa: E501
    for f in ("best_prompt.txt", "last_prompt.txt", "run.json", "report.html"):
        assert (tmp_path / "run" / f).is_file()


def test_reason_subsets_are_seeded_distinct_and_sized(tmp_path):
    task, backend = make()
    run(tmp_path, backend, task, iterations=1, candidates=5, top_k=2)
    subsets = [
        frozenset(re.findall(r"Case (\d+\.\d+)", r.messages[0].content))
        for k, r in backend.requests
        if k == "candidate"
    ]
    assert len(subsets) == 5 and all(len(s) == 5 for s in subsets)
    assert len(set(subsets)) > 1
    # same seed, fresh run dir: the same subsets
    task2, backend2 = make()
    run(tmp_path / "again", backend2, task2, iterations=1, candidates=5, top_k=2)
    again = [
        frozenset(re.findall(r"Case (\d+\.\d+)", r.messages[0].content))
        for k, r in backend2.requests
        if k == "candidate"
    ]
    assert again == subsets


def test_identical_candidates_are_scored_once(tmp_path):
    exs = yes_no_examples()
    backend = ScriptedBackend(
        exs,
        lambda kind, text, n: (
            "<prompt>Always GOOD3 the same.</prompt>"
            if kind == "candidate"
            else default_reply(kind, text, n)
        ),
    )
    res = run(tmp_path, backend, Task("t", exs), iterations=1, candidates=6, top_k=2)
    texts = [c["text"] for c in res.candidates]
    # it names neither Yes nor No: the format guard appends them, to every copy alike
    assert texts.count("Always GOOD3 the same.\n\nAnswer with Yes or No.") == 1
    db = sqlite3.connect(tmp_path / "run" / "store.sqlite")
    dups = db.execute("SELECT count(*) FROM events WHERE kind='duplicate'").fetchone()[0]
    assert dups == 5


def test_budget_stops_before_overspending_and_keeps_best(tmp_path):
    task, backend = make()
    res = run(tmp_path, backend, task, iterations=3, candidates=10, top_k=2, budget=45)
    assert res.stop_reason.startswith("budget")
    assert res.usage["task"]["requests"] <= 45
    assert res.usage["task"]["requests"] == 40  # initial + 3 candidates; a 5th would overspend
    assert (tmp_path / "run" / "best_prompt.txt").read_text().strip() == res.best_prompt
    data = json.loads((tmp_path / "run" / "run.json").read_text())
    assert data["stop_reason"] == res.stop_reason


def test_max_optimizer_calls_stop(tmp_path):
    task, backend = make()
    res = run(tmp_path, backend, task, iterations=3, candidates=4, max_optimizer_calls=5)
    assert res.stop_reason.startswith("max optimizer calls")
    assert backend.counts["reason"] + backend.counts["candidate"] + backend.counts["contrast"] <= 5


def test_the_call_cap_counts_what_earlier_processes_paid_for(tmp_path):
    """A resumed run whose earlier requests are not replayed (its cache is gone, or its path
    changed) still stops at the cap over the whole run, not the cap again."""
    task, backend = make()
    run(tmp_path, backend, task, iterations=1, candidates=2)
    first = sum(backend.counts[k] for k in ("reason", "candidate", "contrast"))
    cap = first + 2
    (tmp_path / "run" / "cache.sqlite").unlink()
    run(tmp_path, backend, task, iterations=3, candidates=2, max_optimizer_calls=cap)
    with sqlite3.connect(tmp_path / "run" / "store.sqlite") as con:
        sql = "select count(*) from llm_calls where role = 'optimizer'"
        paid = con.execute(sql).fetchone()[0]
    assert first < paid <= cap


def test_unusable_answers_are_retried_then_skipped(tmp_path):
    exs = yes_no_examples()
    backend = ScriptedBackend(
        exs,
        lambda kind, text, n: (
            "<reason>x</reason> <prompt></prompt>"
            if kind not in ("reason", "reasons")
            else default_reply(kind, text, n)
        ),
    )
    res = run(tmp_path, backend, Task("t", exs), iterations=2, candidates=3, top_k=2)
    assert backend.counts["candidate"] == 2 * 3 * 3  # each of 3 tries, twice
    assert [c["origin"] for c in res.candidates] == ["initial"]
    db = sqlite3.connect(tmp_path / "run" / "store.sqlite")
    whys = [
        json.loads(r[0]).get("why", "")
        for r in db.execute("SELECT data FROM events WHERE kind='skipped'")
    ]
    assert any("fewer than 2 distinct" in w for w in whys)
    assert res.best_prompt == res.last_prompt == "Answer the question."


def test_perfect_initial_prompt_stops(tmp_path):
    task, backend = make()
    res = optimize(
        task, "GOOD10 answer.", model=backend, run_dir=tmp_path / "r", n_train=10, test_limit=5
    )
    assert "already perfect" in res.stop_reason and backend.counts["reason"] == 0


def test_budget_zero_and_other_settings_refused(tmp_path):
    task, backend = make()
    with pytest.raises(UserError, match="budget"):
        run(tmp_path, backend, task, budget=0)
    run(tmp_path, backend, task, iterations=1, candidates=2)
    with pytest.raises(UserError) as e:
        run(tmp_path, backend, task, iterations=1, candidates=3)
    assert "--run-dir" in str(e.value) and "method_settings" in str(e.value)
    res = run(tmp_path, backend, task, iterations=1, candidates=3, force=True)
    assert len([c for c in res.candidates if c["origin"] == "candidate"]) == 3


def test_rerun_of_finished_run_asks_nothing_new(tmp_path):
    task, backend = make()
    first = run(tmp_path, backend, task, iterations=2, candidates=3, top_k=2)
    before = sum(backend.counts.values())
    second = run(tmp_path, backend, task, iterations=2, candidates=3, top_k=2)
    assert sum(backend.counts.values()) == before
    assert second.best_prompt == first.best_prompt and second.candidates == first.candidates


def test_run_cost_is_priced_per_model_and_unknown_when_a_price_is(tmp_path):
    from contrastprompt.llm.usage import price_for
    from contrastprompt.store import Store

    s = Store(tmp_path / "s.sqlite")
    s.add_call(1, "task", "openai:gpt-4o-mini", "a", 1000, 1000, "stop", 0.1)
    s.add_call(1, "task", "openai:gpt-4o", "b", 1000, 0, "stop", 0.1)
    s.add_call(1, "optimizer", "openai:no-such-price", "c", 10, 10, "stop", 0.1)
    t = s.call_totals(1, price_for)
    assert t["task"]["cost"] == pytest.approx((1000 * 0.15 + 1000 * 0.60 + 1000 * 2.50) / 1e6)
    assert t["optimizer"]["cost"] is None
    assert s.call_totals(1)["task"]["cost"] is None  # the store alone knows no prices


def test_token_limit_stops_within_one_round_of_requests(tmp_path):
    """The limit is checked when a request gets its slot, so a step of 10 reasons stops after
    the first round (4 at once) instead of sending all 10, and the other reason requests are
    cancelled, not left running."""
    import asyncio

    class Slow(ScriptedBackend):
        async def complete(self, request):  # noqa: ANN001, ANN201
            if "Why did the model get this wrong" in request.messages[-1].content:
                await asyncio.sleep(0.05)
            return await super().complete(request)

    exs = yes_no_examples(40)
    task, backend = Task("scripted", exs), Slow(exs)
    # 10 task requests x 12 tokens = 120; each optimizer answer adds 70; the paper's schedule
    # asks one reason a failure, 10 at once
    res = run(tmp_path, backend, task, max_tokens=200, concurrency=4, profile="paper")
    assert res.stop_reason.startswith("max tokens")
    # at most one round: how many of the 4 got their slot before the first answer came back
    # depends on the machine's load
    assert 1 <= backend.counts["reason"] <= 4, backend.counts
    assert backend.counts["candidate"] == 0


def test_split_seed_fixes_the_split_while_the_optimizer_seed_varies(tmp_path):
    task, backend = make()

    def train_ids(run_dir) -> set[str]:
        db = sqlite3.connect(run_dir / "store.sqlite")
        ids = {r[0] for r in db.execute("SELECT example_id FROM evaluations WHERE split='train'")}
        db.close()
        return ids

    runs = {}
    for name, seed, split_seed in (("a", 1, 7), ("b", 2, 7), ("c", 2, None)):
        optimize(
            task,
            "Answer the question.",
            model=backend,
            seed=seed,
            split_seed=split_seed,
            iterations=1,
            candidates=2,
            n_train=10,
            test_limit=4,
            run_dir=tmp_path / name,
        )
        runs[name] = train_ids(tmp_path / name)
    assert runs["a"] == runs["b"]  # same split seed, other optimizer seeds
    assert runs["c"] != runs["b"]  # the split follows --seed when no split seed is given
    settings = json.loads((tmp_path / "a" / "run.json").read_text())["settings"]
    assert settings["split_seed"] == 7 and settings["seed"] == 1
    assert "split_seed" not in json.loads((tmp_path / "c" / "run.json").read_text())["settings"]


def test_failure_threshold_and_correct_agree_for_float_metrics(tmp_path):
    import asyncio

    from contrastprompt.llm import LLM
    from contrastprompt.scoring import evaluate_async

    task, backend = make()
    task.metric = lambda pred, ex: 0.6  # a float metric: every answer is "60% right"
    recs = asyncio.run(
        evaluate_async("Answer.", task.examples[:4], task, LLM(backend), threshold=0.5)
    ).records
    assert all(r.correct and r.to_dict()["correct"] for r in recs)
    # the optimizer sees no failure at that threshold, and stops before asking anything
    res = run(tmp_path, backend, task, failure_threshold=0.5)
    assert res.stop_reason == "the initial prompt is already perfect on the training set"
    assert backend.counts["reason"] == 0
    # at the default threshold of 1.0 the same answers are failures and get reasons
    run(tmp_path / "strict", backend, task, iterations=1, candidates=1)
    assert backend.counts["reasons"] > 0


def test_changed_label_or_metric_is_not_resumed_from_stale_scores(tmp_path):
    task, backend = make()
    run(tmp_path, backend, task, iterations=1, candidates=2)
    exs = yes_no_examples(40)
    exs[3].target = "Yes" if exs[3].target == "No" else "No"  # a fixed label
    with pytest.raises(UserError) as e:
        run(tmp_path, ScriptedBackend(exs), Task("scripted", exs), iterations=1, candidates=2)
    assert "data_hash" in str(e.value)

    def lenient(pred, ex):  # noqa: ANN001, ANN202
        return float((pred or "").lower() == ex.target.lower())

    t2 = Task("scripted", yes_no_examples(40), metric=lenient)
    with pytest.raises(UserError) as e:
        run(tmp_path, ScriptedBackend(t2.examples), t2, iterations=1, candidates=2)
    assert "scoring" in str(e.value)


def test_run_stored_before_the_scoring_keys_resumes_and_gains_them(tmp_path):
    task, backend = make()
    run(tmp_path, backend, task, iterations=1, candidates=2)
    db = tmp_path / "run" / "store.sqlite"
    con = sqlite3.connect(db)
    settings = json.loads(con.execute("SELECT settings FROM runs").fetchone()[0])
    for k in ("scoring", "data_hash"):
        settings.pop(k)
    con.execute("UPDATE runs SET settings=?, fingerprint='old'", (json.dumps(settings),))
    con.commit()
    con.close()
    calls = backend.counts["task"]
    run(tmp_path, backend, task, iterations=1, candidates=2)
    assert backend.counts["task"] == calls  # resumed: nothing asked again
    con = sqlite3.connect(db)
    stored = json.loads(con.execute("SELECT settings FROM runs").fetchone()[0])
    con.close()
    assert "data_hash" in stored and "scoring" in stored


def priced(n: int = 40) -> tuple[Task, ScriptedBackend]:
    task, backend = make(n)
    backend.model_id = "openai:gpt-4o-mini"  # a model with a known price
    return task, backend


def test_cost_limit_stops_the_run_once_reached(tmp_path):
    task, backend = priced()
    # 10 task requests cost 10·(10·0.15 + 2·0.60)/1e6 = $0.000027; one optimizer answer more
    res = run(tmp_path, backend, task, iterations=3, candidates=4, max_cost=0.00003)
    assert res.stop_reason.startswith("max cost")
    assert backend.counts["candidate"] == 0  # stopped during the first reasons
    unlimited = run(tmp_path / "u", priced()[1], task, iterations=3, candidates=4)
    assert not unlimited.stop_reason.startswith("max cost")


def test_time_limit_zero_stops_before_anything_is_scored(tmp_path):
    task, backend = make()
    with pytest.raises(UserError, match="max time"):
        run(tmp_path, backend, task, iterations=2, candidates=2, max_time=0)
    assert backend.counts["task"] == 0


def test_patience_stops_after_iterations_without_gain(tmp_path):
    task, _ = make()

    def never_better(kind: str, text: str, n: int) -> str:
        if kind == "reason":
            return "<reason>It does not say how to decide.</reason>"
        return f"<patterns>x</patterns><prompt>Decide, plain variant {n}.</prompt>"

    backend = ScriptedBackend(task.examples, never_better)
    res = run(tmp_path, backend, task, iterations=5, candidates=2, patience=2)
    assert res.stop_reason == "patience: no gain in 2 iterations"
    without = run(
        tmp_path / "w",
        ScriptedBackend(task.examples, never_better),
        task,
        iterations=3,
        candidates=2,
    )
    assert without.stop_reason.startswith("iterations")


def test_system_placement_puts_the_prompt_in_the_system_message(tmp_path):
    task, backend = make()
    run(tmp_path, backend, task, iterations=1, candidates=1, placement="system")
    tasks = [r for k, r in backend.requests if k == "task"]
    assert tasks and all(r.messages[0].role == "system" for r in tasks)
    assert all("Answer the question." not in r.messages[-1].content for r in tasks)


@pytest.mark.parametrize(
    "limits,cands,reasons",
    [({"budget": 40}, 2, 10), ({"max_optimizer_calls": 9}, 4, 4)],
)
def test_a_budget_too_small_for_an_iteration_still_reaches_the_contrast(
    tmp_path, limits, cands, reasons
):
    """The paper's schedule. With 10 training examples a budget of 40 task requests holds 4
    scorings: the initial prompt, 2 candidates (not 10) and the contrast prompt; a cap of 9
    optimizer calls holds 4 reasons, 4 candidates and the contrast."""
    task, backend = make()
    res = run(tmp_path, backend, task, iterations=1, max_failures=10, profile="paper", **limits)
    origins = [c["origin"] for c in res.candidates]
    assert origins.count("contrast") == 1, (origins, res.stop_reason)
    assert backend.counts["candidate"] == cands and backend.counts["reason"] == reasons


def test_a_run_stored_before_a_method_setting_existed_resumes(tmp_path):
    """A stored LCP run whose settings lack a setting added since (here `contrast`, at its
    default) resumes as it is and asks nothing again; a run stored with another value is
    refused."""
    from contrastprompt.run.rundir import fingerprint as _fingerprint

    task, backend = make()
    first = run(tmp_path, backend, task, iterations=1, candidates=2)
    db = sqlite3.connect(tmp_path / "run" / "store.sqlite")
    (raw,) = db.execute("SELECT settings FROM runs").fetchone()
    old = json.loads(raw)
    del old["method_settings"]["contrast"]
    db.execute("UPDATE runs SET settings=?, fingerprint=?", (json.dumps(old), _fingerprint(old)))
    db.commit()
    asked = sum(backend.counts.values())
    again = run(tmp_path, backend, task, iterations=1, candidates=2)
    assert sum(backend.counts.values()) == asked and again.best_prompt == first.best_prompt
    with pytest.raises(UserError, match="other settings"):
        run(tmp_path, backend, task, iterations=1, candidates=2, contrast=False)


def forget_loop_end(run_dir) -> None:  # noqa: ANN001
    """As if the process was stopped before its loop ended: the store keeps no end."""
    db = sqlite3.connect(run_dir / "store.sqlite")
    db.execute("DELETE FROM state WHERE key='loop_end'")
    db.commit()
    db.close()


def writes(tag: str):  # noqa: ANN201
    """Optimizer replies whose prompts carry `tag` ("GOOD8": right on 8 of every 10)."""

    def reply(kind: str, text: str, n: int) -> str:
        if kind == "candidate":
            return f"<prompt>Decide {tag} {n}. End with 'Answer: Yes' or 'Answer: No'.</prompt>"
        if kind == "contrast":
            return f"<prompt>Contrast {tag}. End with 'Answer: Yes' or 'Answer: No'.</prompt>"
        return default_reply(kind, text, n)

    return reply


def test_a_resumed_run_that_takes_another_path_keeps_the_prompts_it_paid_for(tmp_path):
    """After an interruption, optimizer answers asked again may differ (batching) and the run
    takes another path. Prompts of the abandoned path were scored in full and paid for: they
    join the pool at the end, and best-on-train may pick them."""
    task, first = make()
    first.reply = writes("GOOD8")  # the first path writes a prompt right on 8 of 10
    run(tmp_path, first, task, iterations=1, candidates=2)
    forget_loop_end(tmp_path / "run")
    for name in ("cache.sqlite", "cache.sqlite-wal", "cache.sqlite-shm", "run.json"):
        (tmp_path / "run" / name).unlink(missing_ok=True)  # as if its answers were never kept
    task, second = make()
    second.reply = writes("plain")  # asked again, the optimizer writes worse prompts
    res = run(tmp_path, second, task, iterations=1, candidates=2)
    texts = [c["text"] for c in res.candidates]
    assert any("GOOD8" in t for t in texts) and any("plain" in t for t in texts)
    assert "GOOD8" in res.best_prompt and res.best_train_score == pytest.approx(0.8)
    db = sqlite3.connect(tmp_path / "run" / "store.sqlite")
    assert db.execute("SELECT count(*) FROM events WHERE kind='adopted'").fetchone()[0] == 1


def test_a_resumed_run_on_the_same_path_adopts_nothing(tmp_path):
    task, backend = make()
    first = run(tmp_path, backend, task, iterations=1, candidates=2)
    (tmp_path / "run" / "run.json").unlink()
    forget_loop_end(tmp_path / "run")
    again = run(tmp_path, backend, task, iterations=1, candidates=2)
    assert [c["hash"] for c in again.candidates] == [c["hash"] for c in first.candidates]
    db = sqlite3.connect(tmp_path / "run" / "store.sqlite")
    assert db.execute("SELECT count(*) FROM events WHERE kind='adopted'").fetchone()[0] == 0


class Interrupt(Exception):
    pass


def _reply_by_request(kind: str, text: str, n: int) -> str:
    """Candidates that depend on the request, not on the order of calls: a resumed run that
    asks again what it asked before gets the same prompt."""
    import zlib

    if kind == "candidate":
        return f"<prompt>Decide: GOOD{zlib.crc32(text.encode()) % 10} x.</prompt>"
    return default_reply(kind, text, n)


def _interruptible(path, stop_at, **kw):  # noqa: ANN001, ANN202
    """A run whose event hook raises Interrupt on the first event `stop_at(kind, data)` takes."""
    task, backend = make()
    backend.reply = _reply_by_request

    def hook(kind: str, data: dict) -> None:
        if stop_at is not None and stop_at(kind, data):
            raise Interrupt()

    kw.setdefault("profile", "paper")
    return run(path, backend, task, candidates=10, max_failures=6, on_event=hook, **kw)


@pytest.mark.parametrize("limit,planned", [({"budget": 60}, 4), ({"max_optimizer_calls": 11}, 5)])
def test_a_run_interrupted_mid_iteration_resumes_on_the_same_plan(tmp_path, limit, planned):
    """On a resume the store already holds the records and calls of steps the replay has not
    reached yet. Planning on them would write fewer candidates than the first process did and
    send the run down another path; the plan counts what the replayed path has used."""
    seen = []

    def second_candidate(kind: str, data: dict) -> bool:
        seen.append(kind == "scored" and data.get("origin") == "candidate")
        return sum(seen) == 2

    whole = _interruptible(tmp_path / "a", None, iterations=1, **limit)
    with pytest.raises(Interrupt):
        _interruptible(tmp_path / "b", second_candidate, iterations=1, **limit)
    resumed = _interruptible(tmp_path / "b", None, iterations=1, **limit)
    assert [c["text"] for c in resumed.candidates] == [c["text"] for c in whole.candidates]
    assert sum(c["origin"] == "candidate" for c in whole.candidates) == planned
    db = sqlite3.connect(tmp_path / "b" / "run" / "store.sqlite")
    assert db.execute("SELECT count(*) FROM events WHERE kind='adopted'").fetchone()[0] == 0


def test_a_run_interrupted_after_reaching_its_call_cap_resumes_to_the_same_result(tmp_path):
    """Interrupted once every call the cap allows was made: the resumed run asks those calls
    again from the cache (they were paid once) and retraces its path; the cap does not stop
    the replay at its first ask."""

    def contrast_scored(kind: str, data: dict) -> bool:
        return kind == "scored" and data.get("origin") == "contrast"

    kw = {"iterations": 2, "max_optimizer_calls": 11}
    whole = _interruptible(tmp_path / "a", None, **kw)
    with pytest.raises(Interrupt):
        _interruptible(tmp_path / "b", contrast_scored, **kw)
    resumed = _interruptible(tmp_path / "b", None, **kw)
    assert resumed.last_prompt == whole.last_prompt and "contrast" in [
        c["origin"] for c in resumed.candidates
    ]
    assert resumed.stop_reason == whole.stop_reason
    assert resumed.stop_reason.startswith("max optimizer calls: 11 of 11")
    db = sqlite3.connect(tmp_path / "b" / "run" / "store.sqlite")
    assert db.execute("SELECT count(*) FROM events WHERE kind='adopted'").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM llm_calls WHERE role='optimizer'").fetchone()[0] == 11


def test_when_only_the_contrast_fits_the_budget_pays_for_the_contrast(tmp_path):
    """Iteration 1 spends 40 of 50 task requests (initial, 2 candidates, contrast). The 10
    left hold one scoring: iteration 2 asks for no reasons or candidates, only a contrast
    prompt; then nothing fits and the run ends with the budget's reason, asking nothing more."""

    def reply(kind: str, text: str, n: int) -> str:
        if kind == "contrast":
            return f"<patterns>p</patterns><prompt>Be specific: GOOD{n + 5} round {n}.</prompt>"
        return default_reply(kind, text, n)

    task, backend = make()
    backend.reply = reply
    res = run(
        tmp_path,
        backend,
        task,
        iterations=5,
        candidates=2,
        max_failures=4,
        budget=50,
        profile="paper",
    )
    assert [c["origin"] for c in res.candidates] == [
        "initial",
        "candidate",
        "candidate",
        "contrast",
        "contrast",
    ]
    assert (backend.counts["reason"], backend.counts["candidate"]) == (4, 2)
    assert backend.counts["contrast"] == 2
    assert res.stop_reason.startswith("budget: 50 of 50 task requests used")
    db = sqlite3.connect(tmp_path / "run" / "store.sqlite")
    whys = [
        json.loads(d).get("why")
        for (d,) in db.execute("SELECT data FROM events WHERE kind='skipped'")
    ]
    assert "the budget holds the contrast prompt only" in whys


def test_finished_run_whose_store_is_gone_is_read_back_from_run_json(tmp_path):
    """Results kept under version control hold run.json but no store: the same run is read
    back from it, asking nothing, with its anytime curve; a larger budget runs again."""
    from contrastprompt.run.kept import anytime_curve, test_items

    task, backend = make()
    first = run(tmp_path, backend, task, iterations=1, candidates=2)
    d = tmp_path / "run"
    with_store = anytime_curve(first.candidates, d, 10)
    items = test_items(d, [first.best_prompt])
    assert len(next(iter(items.values()))) == 10
    for name in ("store.sqlite", "cache.sqlite"):
        (d / name).unlink()
    asked = sum(backend.counts.values())
    again = run(tmp_path, backend, task, iterations=1, candidates=2)
    assert sum(backend.counts.values()) == asked
    assert (again.best_prompt, again.best_test_score) == (first.best_prompt, first.best_test_score)
    assert again.usage == first.usage and again.selections == first.selections
    # n_train 0: a point missing its recorded requests would fall back to 0
    assert anytime_curve(again.candidates, d, 0) == with_store
    assert test_items(d, [first.best_prompt]) == items  # paired tests need no store either

    more = run(tmp_path, backend, task, iterations=1, candidates=2, budget=500)
    assert sum(backend.counts.values()) > asked and (d / "store.sqlite").is_file()
    assert more.best_train_score >= first.best_train_score


def test_run_json_of_other_settings_is_not_read_back(tmp_path):
    task, backend = make()
    run(tmp_path, backend, task, iterations=1, candidates=2)
    (tmp_path / "run" / "store.sqlite").unlink()
    asked = sum(backend.counts.values())
    run(tmp_path, backend, task, iterations=1, candidates=3)
    assert sum(backend.counts.values()) > asked


def test_run_json_that_records_no_settings_is_not_read_back(tmp_path):
    task, backend = make()
    run(tmp_path, backend, task, iterations=1, candidates=2)
    d = tmp_path / "run"
    (d / "store.sqlite").unlink()
    kept = json.loads((d / "run.json").read_text(encoding="utf-8"))
    kept["settings"] = {}
    (d / "run.json").write_text(json.dumps(kept), encoding="utf-8")
    run(tmp_path, backend, task, iterations=1, candidates=2)
    assert (d / "store.sqlite").is_file()  # run again (its replies come from the cache)


def test_run_json_from_before_a_method_setting_existed_is_read_back(tmp_path):
    """A run recorded before a method setting was added behaved as its default does: read
    back, as a resumed store would be; recorded with another value of it, it runs again."""
    task, backend = make()
    run(tmp_path, backend, task, iterations=1, candidates=2)
    d = tmp_path / "run"
    (d / "store.sqlite").unlink()
    kept = json.loads((d / "run.json").read_text(encoding="utf-8"))
    assert kept["settings"]["method_settings"]["contrast"] is True
    del kept["settings"]["method_settings"]["contrast"]
    (d / "run.json").write_text(json.dumps(kept), encoding="utf-8")
    asked = sum(backend.counts.values())
    run(tmp_path, backend, task, iterations=1, candidates=2)
    assert sum(backend.counts.values()) == asked and not (d / "store.sqlite").exists()

    kept["settings"]["method_settings"]["screen"] = 3  # not what today's run asks for
    (d / "run.json").write_text(json.dumps(kept), encoding="utf-8")
    run(tmp_path, backend, task, iterations=1, candidates=2)
    assert (d / "store.sqlite").is_file()  # run again (its replies come from the cache)


def test_a_finished_run_opened_again_keeps_the_wall_time_it_took(tmp_path):
    task, backend = make()
    run(tmp_path, backend, task, iterations=1, candidates=2)
    path = tmp_path / "run" / "run.json"
    data = json.loads(path.read_text())
    data["limits"]["wall_time_s"] = 1000.0  # as if the run had taken that long
    path.write_text(json.dumps(data))
    run(tmp_path, backend, task, iterations=1, candidates=2)  # resumed from its store
    assert json.loads(path.read_text())["limits"]["wall_time_s"] >= 1000.0


def test_a_finished_run_opened_again_leaves_its_run_json_as_it_was(tmp_path):
    """Re-opening a finished run reaches no model: nothing of it changes, its time included."""
    task, backend = make()
    run(tmp_path, backend, task, iterations=1, candidates=2)
    path = tmp_path / "run" / "run.json"
    before = path.read_bytes()
    asked = sum(backend.counts.values())
    run(tmp_path, backend, task, iterations=1, candidates=2)
    assert sum(backend.counts.values()) == asked
    assert path.read_bytes() == before


def test_a_resumed_run_that_reaches_a_model_adds_its_time(tmp_path):
    task, backend = make()
    run(tmp_path, backend, task, iterations=1, candidates=2)
    path = tmp_path / "run" / "run.json"
    data = json.loads(path.read_text())
    data["limits"]["wall_time_s"] = 1000.0
    path.write_text(json.dumps(data))
    asked = sum(backend.counts.values())
    run(tmp_path, backend, task, iterations=2, candidates=2)  # a larger limit runs on
    assert sum(backend.counts.values()) > asked
    assert json.loads(path.read_text())["limits"]["wall_time_s"] > 1000.0


def _lose_answers(run_dir) -> None:  # noqa: ANN001
    for name in ("cache.sqlite", "cache.sqlite-wal", "cache.sqlite-shm"):
        (run_dir / name).unlink(missing_ok=True)


@pytest.mark.parametrize("older_store", [False, True])
def test_a_finished_loop_is_not_run_again_when_its_answers_would_now_read_otherwise(
    tmp_path, older_store
):
    """A finished run opened again with its store goes straight to its result, even when its
    loop, replayed, would take another path (answers no longer cached; a parser changed since):
    the replay would meet the budget the first process spent and end with another last prompt.
    A store made before it kept the loop's end uses run.json's record of it."""
    task, first = make()
    first.reply = writes("GOOD8")
    done = run(tmp_path, first, task, iterations=2, candidates=2, budget=60)
    assert "Contrast GOOD8" in done.last_prompt
    d = tmp_path / "run"
    _lose_answers(d)
    if older_store:
        forget_loop_end(d)
    task, second = make()
    second.reply = writes("plain")
    again = run(tmp_path, second, task, iterations=2, candidates=2, budget=60)
    assert sum(second.counts.values()) == 0
    assert (again.last_prompt, again.last_test_score) == (done.last_prompt, done.last_test_score)
    assert (again.best_prompt, again.stop_reason) == (done.best_prompt, done.stop_reason)
    assert [c["hash"] for c in again.candidates] == [c["hash"] for c in done.candidates]
    db = sqlite3.connect(d / "store.sqlite")
    kinds = [k for (k,) in db.execute("SELECT kind FROM events ORDER BY id")]
    assert "adopted" not in kinds and kinds[-2:] == ["resumed", "restored"]

    more = run(tmp_path, second, task, iterations=2, candidates=2, budget=200)  # runs on
    assert second.counts["candidate"] > 0
    assert any("plain" in c["text"] for c in more.candidates)


def test_a_run_stopped_after_its_loop_resumes_without_running_it_again(tmp_path):
    """Stopped while its prompts were scored on test: the loop had ended, so the resumed run
    scores what is left on test and nothing on train."""
    task, first = make()
    first.reply = writes("GOOD8")
    done = run(tmp_path, first, task, iterations=1, candidates=2)
    d = tmp_path / "run"
    (d / "run.json").unlink()
    db = sqlite3.connect(d / "store.sqlite")
    db.execute("DELETE FROM evaluations WHERE split='test'")
    db.commit()
    db.close()
    _lose_answers(d)
    task, second = make()
    second.reply = writes("plain")
    again = run(tmp_path, second, task, iterations=1, candidates=2)
    assert second.counts["candidate"] == second.counts["contrast"] == 0
    assert second.counts["task"] > 0  # the test items, scored again
    assert (again.last_prompt, again.best_test_score) == (done.last_prompt, done.best_test_score)


def test_a_resumed_run_reports_the_reasons_it_replayed_once(tmp_path):
    """The resumed process replays the first iteration and records its reasons again (from the
    cache); the report shows each iteration's reasons once."""

    def first_candidate(kind: str, data: dict) -> bool:
        return kind == "scored" and data.get("origin") == "candidate"

    with pytest.raises(Interrupt):
        _interruptible(tmp_path, first_candidate, iterations=1)
    _interruptible(tmp_path, None, iterations=1)
    db = sqlite3.connect(tmp_path / "run" / "store.sqlite")
    assert db.execute("SELECT count(*) FROM events WHERE kind='reasons'").fetchone()[0] == 2
    html = (tmp_path / "run" / "report.html").read_text(encoding="utf-8")
    assert len(re.findall(r"Iteration 1: \d+ failure reasons", html)) == 1


def test_a_lone_candidate_is_not_given_reasons_it_cannot_read(tmp_path):
    """A budget of 30 task requests on 10 training examples holds the initial prompt, one
    candidate and the contrast. The candidate request shows `subset_size` (5) reasons, so only
    5 failures are explained, not `max_failures` (10)."""
    task, backend = make()
    run(
        tmp_path,
        backend,
        task,
        iterations=1,
        candidates=10,
        max_failures=10,
        budget=30,
        profile="paper",
    )
    assert backend.counts["candidate"] == 1
    assert backend.counts["reason"] == 5
    (shown,) = [r.messages[0].content for k, r in backend.requests if k == "candidate"]
    assert len(re.findall(r"case (\d+)", shown)) == 5


def test_a_run_stored_with_a_setting_lcp_no_longer_has_is_neither_resumed_nor_read_back(
    tmp_path,
):
    """A run stored by LCP before its settings were reshaped holds a key today's LCP does not
    have (`state_labels`): it asked for other things, so its store is refused and its run.json
    runs again; no table of what such keys meant is kept."""
    from contrastprompt.run.rundir import fingerprint as _fingerprint

    task, backend = make()
    kw = {"iterations": 1, "candidates": 2}
    run(tmp_path, backend, task, **kw)
    d = tmp_path / "run"
    kept = json.loads((d / "run.json").read_text(encoding="utf-8"))
    kept["settings"]["method_settings"]["state_labels"] = False
    (d / "run.json").write_text(json.dumps(kept), encoding="utf-8")
    db = sqlite3.connect(d / "store.sqlite")
    (raw,) = db.execute("SELECT settings FROM runs").fetchone()
    old = json.loads(raw)
    old["method_settings"]["state_labels"] = False
    db.execute("UPDATE runs SET settings=?, fingerprint=?", (json.dumps(old), _fingerprint(old)))
    db.commit()
    db.close()
    with pytest.raises(UserError, match="other settings"):
        run(tmp_path, backend, task, **kw)
    (d / "store.sqlite").unlink()
    run(tmp_path, backend, task, **kw)  # run.json of the old settings: not read back
    assert (d / "store.sqlite").is_file()
