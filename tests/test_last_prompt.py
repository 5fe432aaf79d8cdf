"""The run's last prompt is the last prompt the method scored on the whole training set when a
stop condition cuts a step short, the same rule for every method (run/loop.py, cut_last).
Scripted LLM for the bookkeeping, a real store for what the run recorded and read back."""

from __future__ import annotations

import sqlite3

import pytest

from contrastprompt import Task, optimize
from contrastprompt.store import prompt_hash

from .scripted import ScriptedBackend, default_reply, yes_no_examples

INITIAL = "Answer the question."


def make(reply=None) -> tuple[Task, ScriptedBackend]:  # noqa: ANN001
    exs = yes_no_examples(40)
    return Task("scripted", exs), ScriptedBackend(exs, reply)


def run(tmp_path, backend, task, method, **kw):  # noqa: ANN001, ANN201
    kw.setdefault("n_train", 20)
    kw.setdefault("evaluate_test", False)
    return optimize(task, INITIAL, model=backend, method=method, run_dir=tmp_path / method, **kw)


def scored_in_order(run_dir) -> list[str]:  # noqa: ANN001
    """Hashes of the prompts the run scored on the whole training set, in the order it did."""
    con = sqlite3.connect(run_dir / "store.sqlite")
    rows = con.execute("SELECT data FROM events WHERE kind='scored' ORDER BY id").fetchall()
    con.close()
    import json

    return [json.loads(r[0])["hash"] for r in rows]


def test_opro_step_cut_by_the_budget_ends_on_the_last_proposal_it_scored(tmp_path):
    task, backend = make()
    # 20 requests for the initial prompt, then room for 2 of the step's 4 proposals
    res = run(tmp_path, backend, task, "opro", iterations=3, candidates=4, budget=60)
    assert res.stop_reason.startswith("budget")
    proposals = [c for c in res.candidates if c["origin"] == "proposal"]
    assert len(proposals) == 2
    last_scored = max(proposals, key=lambda c: c["seq"])
    assert res.last_prompt == last_scored["text"] != INITIAL
    assert prompt_hash(res.last_prompt) == scored_in_order(res.run_dir)[-1]
    assert (res.run_dir / "last_prompt.txt").read_text().strip() == res.last_prompt


def test_ape_cut_while_completing_ends_on_the_proposal_completed_last(tmp_path):
    task, backend = make()
    # initial 20; 3 proposals on a 5-item subset, 15; the first kept one completed, 15 more;
    # the second one's 15 do not fit
    kw = {"candidates": 3, "eval_examples": 5, "keep": 2}
    res = run(tmp_path, backend, task, "ape", iterations=2, budget=50, **kw)
    assert res.stop_reason.startswith("budget")
    full = [c for c in res.candidates if c["origin"] == "proposal"]
    assert len(full) == 1
    assert res.last_prompt == full[0]["text"] != INITIAL


def test_a_prompt_tried_on_a_subset_only_is_not_the_last_prompt(tmp_path):
    task, backend = make()
    # initial 20, then two 5-item subset screens; the third does not fit: nothing was scored
    # on the whole training set in the step, so the last prompt is the one it started from
    kw = {"candidates": 3, "eval_examples": 5, "keep": 2}
    res = run(tmp_path, backend, task, "ape", iterations=2, budget=30, **kw)
    assert res.stop_reason.startswith("budget")
    assert [c["origin"] for c in res.candidates] == ["initial"]
    assert res.last_prompt == INITIAL


def best_first(kind: str, text: str, n: int) -> str:
    """OPRO's proposals in falling quality (GOOD8, GOOD7, ...): the step's pick is its first
    proposal, not the one it scored last."""
    if kind == "opro":
        return f"<prompt>Answer with care, GOOD{9 - n} opro {n}.</prompt>"
    return default_reply(kind, text, n)


def test_a_step_that_returns_keeps_its_pick_and_a_cut_step_that_scored_nothing_keeps_it(
    tmp_path,
):
    task, backend = make(best_first)
    # step 1 scores its 4 proposals (100 requests in all) and returns its best; step 2 asks
    # for proposals, and the budget refuses the first scoring
    res = run(tmp_path, backend, task, "opro", iterations=3, candidates=4, budget=100)
    assert res.stop_reason.startswith("budget")
    proposals = sorted(
        (c for c in res.candidates if c["origin"] == "proposal"), key=lambda c: c["seq"]
    )
    assert len(proposals) == 4
    assert "GOOD8" in proposals[0]["text"] and "GOOD5" in proposals[-1]["text"]
    assert res.last_prompt == proposals[0]["text"]


def test_a_finished_run_reads_back_the_same_last_prompt_without_asking_again(tmp_path):
    task, backend = make()
    first = run(tmp_path, backend, task, "opro", iterations=3, candidates=4, budget=60)
    asked = sum(backend.counts.values())
    again = run(tmp_path, backend, task, "opro", iterations=3, candidates=4, budget=60)
    assert sum(backend.counts.values()) == asked
    assert again.last_prompt == first.last_prompt != INITIAL
    assert again.stop_reason == first.stop_reason


def test_an_end_recorded_under_the_earlier_rule_reads_back_as_recorded(tmp_path):
    """A store whose recorded end names the prompt the cut step started from (what runs stored
    before the rule recorded) is read back with that last prompt, not replayed or refused."""
    import json

    task, backend = make()
    res = run(tmp_path, backend, task, "opro", iterations=3, candidates=4, budget=60)
    con = sqlite3.connect(res.run_dir / "store.sqlite")
    (raw,) = con.execute("SELECT value FROM state WHERE key='loop_end'").fetchone()
    end = json.loads(raw)
    assert end["last"] == prompt_hash(res.last_prompt)
    end["last"] = end["initial"]
    con.execute("UPDATE state SET value=? WHERE key='loop_end'", (json.dumps(end),))
    con.commit()
    con.close()
    asked = sum(backend.counts.values())
    again = run(tmp_path, backend, task, "opro", iterations=3, candidates=4, budget=60)
    assert sum(backend.counts.values()) == asked
    assert again.last_prompt == INITIAL


@pytest.mark.model
@pytest.mark.slow
def test_a_real_model_run_cut_by_the_budget_ends_on_its_last_scored_prompt(tmp_path):
    """SmolLM2 answers and Qwen2.5-Coder-1.5B writes, over the local servers: the budget holds
    the initial prompt and one proposal on 6 training items, so OPRO's first step is cut when
    it scores the second; the last prompt is the proposal scored, not the initial prompt."""
    res = optimize(
        "examples/reviews.jsonl",
        "Classify the review.",
        model="local:smollm2-135m",
        optimizer_model="local:qwen2.5-coder-1.5b",
        method="opro",
        iterations=2,
        candidates=4,  # any two usable of four are enough for the cut
        n_train=6,
        budget=12,
        run_dir=tmp_path / "opro",
        evaluate_test=False,
    )
    order = scored_in_order(res.run_dir)
    assert res.stop_reason.startswith("budget"), res.stop_reason
    assert len(order) == 2, res.candidates  # the initial prompt and one proposal
    assert prompt_hash(res.last_prompt) == order[-1] != prompt_hash("Classify the review.")
