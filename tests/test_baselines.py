"""Each baseline's defining mechanism, with a scripted LLM (bookkeeping only: the proof that a
method works is a real run, in test_methods_e2e.py and bench/). Every assertion here reads what
the optimizer really sent or stored, so a method that skipped its mechanism would fail."""

from __future__ import annotations

import re
import sqlite3

import pytest

from contrastprompt import Task, optimize
from contrastprompt.errors import UserError
from contrastprompt.optimizers import OPTIMIZERS, build_optimizer

from .scripted import ScriptedBackend, kind_of, yes_no_examples


def make(n: int = 40) -> tuple[Task, ScriptedBackend]:
    exs = yes_no_examples(n)
    return Task("scripted", exs), ScriptedBackend(exs)


def run(tmp_path, backend, task, method, **kw):
    kw.setdefault("n_train", 20)
    kw.setdefault("evaluate_test", False)
    return optimize(
        task, "Answer the question.", model=backend, method=method, run_dir=tmp_path / method, **kw
    )


def sent(backend: ScriptedBackend, kind: str) -> list[str]:
    return ["\n".join(m.content for m in r.messages) for k, r in backend.requests if k == kind]


def train_records_per_prompt(run_dir) -> dict[str, int]:
    con = sqlite3.connect(run_dir / "store.sqlite")
    rows = con.execute(
        "SELECT prompt_hash, COUNT(*) FROM evaluations WHERE split='train' GROUP BY prompt_hash"
    ).fetchall()
    con.close()
    return dict(rows)


def test_apo_gradients_edits_paraphrases_beam_and_bandit(tmp_path):
    task, backend = make()
    res = run(tmp_path, backend, task, "apo", iterations=2, bandit_sample=4, bandit_rounds=2)
    grads, edits, paras = (sent(backend, k) for k in ("gradient", "edit", "paraphrase"))
    # step 1 expands the initial prompt only; step 2 the beam it kept (at most beam_size)
    assert 2 <= len(grads) <= 1 + 4
    # the gradient request shows errors of the prompt it criticises: wrong answers, right targets
    assert "The model replied: Answer:" in grads[0] and "Correct answer:" in grads[0]
    # one edit per gradient (4 per request), two paraphrases per edit
    assert len(edits) == 4 * len(grads) and len(paras) == 2 * len(edits)
    assert any("It never says rule" in e for e in edits)
    # the bandit scored some arms on part of the training set only
    counts = train_records_per_prompt(res.run_dir)
    assert any(0 < c < 20 for c in counts.values()), counts
    assert max(counts.values()) == 20
    # the step's pick is scored in full and improves on the initial prompt
    assert res.best_train_score > res.initial_train_score
    origins = {c["origin"] for c in res.candidates}
    assert origins <= {"initial", "edit", "beam"} and "edit" in origins


def test_opro_trajectory_is_ascending_with_exemplars_and_several_proposals(tmp_path):
    task, backend = make()
    res = run(tmp_path, backend, task, "opro", iterations=2, candidates=3)
    metas = sent(backend, "opro")
    assert len(metas) == 6  # 3 proposals per step, 2 steps
    last = metas[-1]
    scores = [int(s) for s in re.findall(r"</prompt>\nscore: (\d+)", last)]
    assert len(scores) == 4 and scores == sorted(scores)  # initial + step 1's three, ascending
    assert last.count("Correct answer:") == 3  # exemplars with their targets
    assert len([c for c in res.candidates if c["origin"] == "proposal"]) == 6


def test_opro_shows_at_most_max_history(tmp_path):
    task, backend = make()
    run(tmp_path, backend, task, "opro", iterations=3, candidates=3, max_history=2)
    assert all(len(re.findall(r"score: \d+", m)) <= 2 for m in sent(backend, "opro"))


def test_ape_induces_from_demos_then_selects_on_a_subset(tmp_path):
    task, backend = make()
    res = run(
        tmp_path,
        backend,
        task,
        "ape",
        iterations=2,
        candidates=6,
        eval_examples=5,
        keep=2,
        variants=2,
    )
    induce = sent(backend, "induce")
    assert len(induce) == 6
    assert all(m.count("Correct answer:") == 5 for m in induce)
    assert "Answer the question." not in induce[0]  # APE does not see the initial prompt
    counts = train_records_per_prompt(res.run_dir)
    partial = [c for c in counts.values() if c < 20]
    assert partial and all(c == 5 for c in partial)  # proposals not kept: the subset only
    kept = [c for c in res.candidates if c["origin"] == "proposal"]
    assert len([c for c in kept if c["iteration"] == 1]) == 2  # keep = 2 scored in full
    assert len(sent(backend, "resample")) == 2 * 2  # step 2: variants of the kept prompts


def test_autohint_hints_per_failure_summarised_onto_the_initial_prompt(tmp_path):
    task, backend = make()
    res = run(tmp_path, backend, task, "autohint", iterations=2, samples=4)
    hints, summaries = sent(backend, "hint"), sent(backend, "summary")
    assert len(hints) == 8 and len(summaries) == 2
    # every per-sample hint goes into the summary request
    assert all(f"case {n}" in summaries[0] for n in range(1, 5))
    # round 2 merges round 1's summary with its new hints, onto the initial prompt (no stacking)
    assert "merged advice GOOD6 round 1" in summaries[1]
    hinted = [c for c in res.candidates if c["origin"] == "hinted"]
    assert hinted[-1]["text"].startswith("Answer the question.\n\nHint: ")
    assert hinted[-1]["text"].count("Hint:") == 1


def test_gepa_runs_through_our_store_budget_and_optimizer_model(tmp_path):
    task, backend = make()
    res = run(tmp_path, backend, task, "gepa", iterations=3, budget=120)
    reflections = sent(backend, "gepa")
    assert reflections, "GEPA never asked the optimizer model"
    # our per-example feedback reached GEPA's reflection prompt
    assert "The correct answer:" in reflections[0] and "Scored as wrong" in reflections[0]
    # every task request went through our store: none beyond the budget, none unrecorded
    counts = train_records_per_prompt(res.run_dir)
    assert sum(counts.values()) <= 120
    assert sum(counts.values()) == backend.counts["task"]
    gepa = [c for c in res.candidates if c["origin"] == "gepa"]
    assert gepa and res.best_train_score > res.initial_train_score
    assert res.stop_reason.startswith("gepa:")


def test_gepa_overshooting_our_budget_stops_cleanly(tmp_path):
    task, backend = make()
    # 20 for the initial prompt, then 8: GEPA's first candidate cannot be scored on all of train
    res = run(tmp_path, backend, task, "gepa", iterations=3, budget=28)
    assert sum(train_records_per_prompt(res.run_dir).values()) <= 28
    assert "budget" in res.stop_reason
    assert [c["origin"] for c in res.candidates] == ["initial"]


@pytest.mark.parametrize("method", ["initial", "cot"])
def test_fixed_methods_score_one_prompt_and_ask_nothing(tmp_path, method):
    task, backend = make()
    res = run(tmp_path, backend, task, method, iterations=3)
    assert len(res.candidates) == 1
    assert sum(v for k, v in backend.counts.items() if k != "task") == 0
    if method == "cot":
        assert res.best_prompt.endswith("Let's think step by step.")
        assert {r.max_tokens for _, r in backend.requests} == {320}


@pytest.mark.parametrize("method", sorted(OPTIMIZERS))
def test_no_test_example_reaches_any_request_during_optimization(tmp_path, method):
    exs = yes_no_examples(40)
    task = Task("canary", exs)
    _, test = task.split(seed=0, n_train=20)
    for e in test:  # the split is by id and seed, so marking inputs does not move it
        e.input = f"CANARY {e.input}"
    backend = ScriptedBackend(exs)
    res = run(tmp_path, backend, task, method, iterations=2, n_train=20)
    assert res.candidates and len(backend.requests) >= 20
    leaked = [k for k, r in backend.requests if "CANARY" in "".join(m.content for m in r.messages)]
    assert leaked == []
    # the check can fail: with the test split scored, canaries do reach the task model
    run(tmp_path / "t", backend, task, method, iterations=1, n_train=20, evaluate_test=True)
    assert any("CANARY" in "".join(m.content for m in r.messages) for _, r in backend.requests)


def test_shared_options_a_method_lacks_are_refused_by_name():
    with pytest.raises(UserError) as e:
        build_optimizer("apo", top_k=3)
    assert e.value.field == "--top-k"
    with pytest.raises(UserError) as e:
        build_optimizer("nope")
    assert e.value.field == "--method"
    with pytest.raises(UserError) as e:
        build_optimizer("opro", candidates=0)
    assert e.value.field == "--candidates"
    assert build_optimizer("opro", candidates=5, top_k=None).s.candidates == 5


class Crash(BaseException):
    """Stands for the process dying: nothing between the request and the run catches it."""


class DiesAtRequest(ScriptedBackend):
    """Dies at its n-th task request: the run ends there, what it finished is stored."""

    def __init__(self, examples, n: int) -> None:  # noqa: ANN001
        super().__init__(examples)
        self.n = n

    async def complete(self, request):  # noqa: ANN001, ANN201
        text = "\n".join(m.content for m in request.messages)
        if kind_of(text) == "task" and self.counts["task"] + 1 >= self.n:
            raise Crash("the machine went away")
        return await super().complete(request)


def test_gepa_resumed_after_a_crash_ends_like_an_uninterrupted_run(tmp_path):
    task, backend = make()
    whole = run(tmp_path / "whole", backend, task, "gepa", iterations=3, budget=120)
    dying = DiesAtRequest(task.examples, 60)
    with pytest.raises(Crash):
        run(tmp_path / "cut", dying, task, "gepa", iterations=3, budget=120)
    assert 0 < dying.counts["task"] < backend.counts["task"]
    dying.n = 10**9  # the same scripted model again (its replies follow its call count)
    resumed = run(tmp_path / "cut", dying, task, "gepa", iterations=3, budget=120)
    # GEPA replays from its seed; with a budget shrunk by the calls made before the crash it
    # stopped short of the uninterrupted run
    assert resumed.stop_reason == whole.stop_reason
    assert [c["text"] for c in resumed.candidates] == [c["text"] for c in whole.candidates]
    assert sum(train_records_per_prompt(resumed.run_dir).values()) <= 120


@pytest.mark.parametrize("method, cap", [("apo", 6), ("ape", 5), ("opro", 4)])
def test_a_step_cut_by_the_call_cap_still_scores_what_it_wrote(tmp_path, method, cap):
    """The cap falls in the middle of the first step's parallel asks (APO: 1 gradient + 4 edits
    + 8 paraphrases; APE: 20 proposals; OPRO: 8): the asks that came back are scored, the
    others are not sent, and the run ends on the cap."""
    task, backend = make()
    res = run(tmp_path, backend, task, method, iterations=3, max_optimizer_calls=cap, budget=400)
    optimizer_calls = sum(n for k, n in backend.counts.items() if k != "task")
    assert optimizer_calls == cap
    others = {h: n for h, n in train_records_per_prompt(tmp_path / method).items()}
    assert len(others) > 1  # something besides the initial prompt was evaluated
    assert res.stop_reason.startswith("max optimizer calls")


def test_gather_asks_keeps_what_came_back_and_stops_only_when_all_were_refused():
    import asyncio

    from contrastprompt.run.context import gather_asks
    from contrastprompt.run.stoppers import StopRun

    async def ok(v: int) -> int:
        return v

    async def refused() -> int:
        raise StopRun("cap")

    assert asyncio.run(gather_asks([ok(1), refused(), ok(3)])) == [1, None, 3]
    with pytest.raises(StopRun):
        asyncio.run(gather_asks([refused(), refused()]))


def test_apo_keeps_its_edits_when_the_cap_comes_during_the_paraphrases(tmp_path):
    """1 gradient + 4 edits fit in a cap of 5; the 8 paraphrases do not: the bandit still
    evaluates the 4 edits."""
    task, backend = make()
    run(tmp_path, backend, task, "apo", iterations=2, max_optimizer_calls=5, budget=400)
    assert backend.counts["gradient"] == 1 and backend.counts["edit"] == 4
    assert backend.counts["paraphrase"] == 0
    assert len(train_records_per_prompt(tmp_path / "apo")) > 1
