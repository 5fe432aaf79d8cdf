"""LCP's budget profile at the public bench's limits (50 training items, 300 task requests, 20
optimizer calls), with the scripted LLM: the plan, and a run that follows it (bookkeeping only;
the real model runs it in tests/test_lcp_e2e.py)."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import zlib
from collections import Counter

import pytest

from contrastprompt import Task, optimize
from contrastprompt.errors import UserError
from contrastprompt.optimizers import LCP

from .scripted import ScriptedBackend, default_reply, yes_no_examples

PUBLIC = {"n_train": 50, "budget": 300, "max_optimizer_calls": 20}


def varied(kind: str, text: str, n: int) -> str:
    """Candidates of scores GOOD1..GOOD8 in turn; a new contrast prompt each time."""
    if kind == "candidate":
        return f"<prompt>Decide with care, GOOD{n % 8 + 1} take {n}.</prompt>"
    if kind == "contrast":
        return f"<patterns>p</patterns><prompt>Decide: GOOD{min(9, n + 6)} round {n}.</prompt>"
    return default_reply(kind, text, n)


def by_request(kind: str, text: str, n: int) -> str:
    """Answers that depend on the request, not on the order of calls: a resumed run that asks
    again what it asked before gets the same prompt."""
    k = zlib.crc32(text.encode())
    if kind == "candidate":
        return f"<prompt>Decide with care, GOOD{k % 8 + 1} take {k}.</prompt>"
    if kind == "contrast":
        return f"<patterns>p</patterns><prompt>Decide: GOOD{k % 10} round {k}.</prompt>"
    return default_reply(kind, text, 0)


def public_run(tmp_path, reply=varied, name: str = "run", **kw):  # noqa: ANN001, ANN201
    exs = yes_no_examples(120)
    backend = ScriptedBackend(exs, reply)
    settings = {**PUBLIC, "iterations": 3, "test_limit": 10, **kw}
    res = optimize(
        Task("scripted", exs),
        "Answer the question.",
        model=backend,
        run_dir=tmp_path / name,
        **settings,
    )
    return res, backend, sqlite3.connect(res.run_dir / "store.sqlite")


def events(con: sqlite3.Connection, kind: str) -> list[tuple[int, dict]]:
    sql = "select iteration, data from events where kind = ? order by id"
    return [(it, json.loads(d)) for it, d in con.execute(sql, (kind,))]


def records(con: sqlite3.Connection) -> dict[str, set[str]]:
    """The training items each prompt was scored on."""
    out: dict[str, set[str]] = {}
    sql = "select prompt_hash, example_id from evaluations where split = 'train'"
    for h, i in con.execute(sql):
        out.setdefault(h, set()).add(i)
    return out


def test_the_plan_at_the_public_profile_holds_two_iterations_of_six_and_a_contrast():
    rounds = LCP().schedule(50, 250, 20, 3)
    assert len(rounds) == 2
    assert all(r.candidates >= 6 and r.minibatch == 10 for r in rounds)
    assert sum(r.calls for r in rounds) <= 20 and sum(r.requests for r in rounds) <= 250
    assert rounds[0].failures == 10 and rounds[0].reason_calls == 2  # 5 a call
    assert rounds[1].history == 2  # first-iteration prompts carried onto the new minibatch
    words = "\n".join(LCP().forecast(50, 3, 300, 20)["plan"])
    assert "2 iterations" in words and "6 candidates" in words
    assert "first scored on a shared minibatch of 10 training items" in words


def test_the_paper_profile_reproduces_the_old_plan():
    """The schedule every LCP run had before the budget profile: candidates scored on all 50
    items, one reason a failure: 4 candidates, 15 reasons and one contrast fill 300/20."""
    paper = LCP(profile="paper")
    assert paper.full_plan(50, 250, 20, False) == (4, 15)
    fc = paper.forecast(50, 3, 300, 20)
    assert fc["iterations"] == 1 and (fc["task_requests"], fc["optimizer_requests"]) == (300, 20)
    assert "4 candidates from 15 failure reasons in 15 calls" in fc["plan"][1]
    assert "scored on all 50 training items" in fc["plan"][1]


def test_a_paper_profile_run_follows_the_old_plan(tmp_path):
    res, backend, _ = public_run(tmp_path, profile="paper")
    assert (backend.counts["reason"], backend.counts["candidate"]) == (15, 4)
    assert backend.counts["contrast"] == 1 and backend.counts["reasons"] == 0
    assert len(res.candidates) == 6  # initial, 4 candidates, contrast: each on all 50


def test_a_run_at_the_public_profile_holds_two_iterations_each_with_six_and_a_contrast(tmp_path):
    res, backend, con = public_run(tmp_path)
    plans = events(con, "plan")
    assert [it for it, _ in plans] == [1, 2]
    assert all(p["candidates"] >= 6 for _, p in plans)
    sql = "select iteration from prompts where origin = 'candidate'"
    tried = Counter(it for (it,) in con.execute(sql))
    assert all(tried[it] >= 6 for it in (1, 2)), tried
    assert [it for it, _ in events(con, "contrast")] == [1, 2]
    assert backend.counts["contrast"] == 2
    assert res.usage["task"]["requests"] <= 300
    assert sum(backend.counts[k] for k in ("reasons", "candidate", "contrast")) <= 20
    # the second contrast sees prompts the first iteration wrote (history)
    first = {t for (t,) in con.execute("select text from prompts where iteration = 1")}
    second = [r.messages[0].content for k, r in backend.requests if k == "contrast"][1]
    assert any(t in second for t in first)


def test_only_the_prompts_that_can_still_be_the_best_get_the_whole_training_set(tmp_path):
    res, _, con = public_run(tmp_path)
    items = records(con)
    initial = next(c["hash"] for c in res.candidates if c["origin"] == "initial")
    complete = {h for h, ids in items.items() if len(ids) == 50}
    completed = {h for _, race in events(con, "race") for h in race["completed"]}
    assert complete == completed | {initial}
    assert {c["hash"] for c in res.candidates} == complete  # the pool holds the complete ones
    assert all(len(ids) in (10, 20) for h, ids in items.items() if h not in complete)
    # each completed prompt was at least as good as the best complete prompt on its items
    for _, race in events(con, "race"):
        scores = {p["hash"]: p["score"] for p in race["prompts"]}
        for h in race["completed"]:
            assert scores[h] >= race["incumbent"]


def test_the_contrast_ranks_prompts_on_the_items_they_all_share(tmp_path):
    _, _, con = public_run(tmp_path)
    items = records(con)
    races = dict(events(con, "race"))
    for it, contrast in events(con, "contrast"):
        batch = set(races[it]["items"])
        shown = contrast["good"] + contrast["bad"]
        assert len(contrast["good"]) == len(contrast["bad"]) == 3
        shared = set.intersection(*(items[h] for h, _ in shown))
        assert shared >= batch
        for h, score in shown:  # the score shown is the mean on the shared items
            rows = con.execute(
                "select example_id, score from evaluations where prompt_hash = ? "
                "and split = 'train'",
                (h,),
            ).fetchall()
            on = [s for i, s in rows if i in shared]
            assert score == pytest.approx(sum(on) / len(on))
        # neither side holds the initial prompt, which names no answer (a near miss only)
        assert "Answer the question." not in contrast["texts"].values()


def test_the_writers_see_labelled_questions_and_reasons_beside_their_questions(tmp_path):
    _, backend, _ = public_run(tmp_path)
    for kind, req in backend.requests:
        if kind not in ("candidate", "contrast"):
            continue
        text = req.messages[0].content
        block = text.split("Some questions of this task, each with its correct answer:")[1]
        assert (
            len(
                re.findall(
                    r"<question>\nQuestion number \d+\?\n</question>\nCorrect answer: "
                    r"(?:Yes|No)",
                    block,
                )
            )
            >= 3
        )
        if kind == "candidate":
            assert (
                len(re.findall(r"- Question: Question number \d+\?\n  Correct answer: ", text)) == 5
            )


def test_a_prompt_the_guard_rejects_spends_no_task_request(tmp_path):
    def unreadable(kind: str, text: str, n: int) -> str:
        if kind == "candidate" and n % 3 == 0:
            return f"<prompt>Think step by step before you answer, GOOD8 take {n}.</prompt>"
        if kind == "candidate" and n % 3 == 1:
            return f"<prompt>Classify the input, GOOD5 take {n}.</prompt>"  # names no answer
        return varied(kind, text, n)

    _, backend, con = public_run(tmp_path, unreadable)
    verdicts = [d for _, d in events(con, "guard")]
    rejected = [v for v in verdicts if v["action"] == "reject"]
    repaired = [v for v in verdicts if v["action"] == "repair"]
    assert rejected and all("asks for steps" in v["why"] for v in rejected)
    assert repaired
    texts = [t for (t,) in con.execute("select text from prompts")]
    assert not any("step by step" in t for t in texts)  # never scored, never stored
    for v in repaired:
        assert v["text"] not in texts  # as written it was never scored...
        assert v["text"].rstrip() + "\n\nAnswer with Yes or No." in texts  # ...repaired it was
    html = (tmp_path / "run" / "report.html").read_text(encoding="utf-8")
    assert "Format guard" in html and "rejected" in html and "asks for steps" in html


def test_without_the_contrast_step_lcp_asks_for_none(tmp_path):
    res, backend, con = public_run(tmp_path, contrast=False)
    assert backend.counts["contrast"] == 0 and not events(con, "contrast")
    assert len(events(con, "plan")) >= 2
    assert all(c["origin"] != "contrast" for c in res.candidates)


def test_a_racing_run_interrupted_mid_iteration_resumes_to_the_same_result(tmp_path):
    class Interrupt(Exception):
        pass

    seen = []

    def second_race(kind: str, data: dict) -> None:
        seen.append(kind)
        if kind == "plan" and seen.count("plan") == 2:  # iteration 2, after the first race
            raise Interrupt()

    whole, _, _ = public_run(tmp_path, by_request, name="a")
    with pytest.raises(Interrupt):
        public_run(tmp_path, by_request, name="b", on_event=second_race)
    again, backend, con = public_run(tmp_path, by_request, name="b")
    assert [c["text"] for c in again.candidates] == [c["text"] for c in whole.candidates]
    assert (again.best_prompt, again.last_prompt) == (whole.best_prompt, whole.last_prompt)
    assert again.stop_reason == whole.stop_reason
    assert con.execute("select count(*) from events where kind = 'adopted'").fetchone()[0] == 0


def test_retries_leave_the_second_iteration_its_calls(tmp_path):
    def first_unusable(kind: str, text: str, n: int) -> str:
        if kind == "candidate" and n <= 4:
            return "Let us analyze:"  # unusable: retried
        return varied(kind, text, n)

    _, backend, con = public_run(tmp_path, first_unusable)
    assert sum(backend.counts[k] for k in ("reasons", "candidate", "contrast")) <= 20
    plans = events(con, "plan")
    assert len(plans) == 2 and backend.counts["contrast"] == 2


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "contrastprompt", "optimize", "-t", "cls:trec", "-p", "x", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("dry", [True, False])
@pytest.mark.parametrize(
    "limit, says",
    [
        (["--budget", "109"], "field '--budget': LCP needs at least 110 task requests"),
        (["--max-optimizer-calls", "3"], "field '--max-optimizer-calls': LCP needs at least 4"),
        (["--max-optimizer-calls", "2", "--set", "profile=paper"], "LCP needs at least 3"),
        (["--budget", "149", "--set", "profile=paper"], "LCP needs at least 150 task requests"),
    ],
)
def test_limits_that_hold_no_candidate_and_contrast_are_refused(tmp_path, limit, says, dry):
    run_dir = tmp_path / "r"
    proc = run_cli(*limit, *(["--dry-run"] if dry else []), "--run-dir", str(run_dir))
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and says in lines[0] and "Traceback" not in proc.stderr
    assert not run_dir.exists()


@pytest.mark.parametrize(
    "settings",
    [{}, {"reasons_per_call": 1}, {"contrast": False}, {"profile": "paper"}, {"max_failures": 3}],
)
@pytest.mark.parametrize("n_train", [20, 50])
def test_every_limit_the_check_accepts_gets_a_plan_and_one_less_is_refused(settings, n_train):
    """The smallest task budget and call cap the check accepts hold an iteration with a
    candidate in the plan (never a dry run of 0 iterations); one fewer is refused."""
    lcp = LCP(**settings)

    def accepted(budget: int, calls: int) -> bool:
        try:
            lcp.check_limits(n_train, budget, calls)
        except UserError:
            return False
        return True

    budget = next(b for b in range(n_train, 6 * n_train) if accepted(b, 1000))
    calls = next(c for c in range(1, 40) if accepted(budget, c))
    plan = lcp.forecast(n_train, 3, budget, calls)
    assert plan["iterations"] >= 1 and "no candidates" not in plan["plan"][1], plan
    assert (budget, calls) == lcp.least_limits(n_train)[:2]


def test_a_run_at_the_smallest_limits_writes_a_candidate_and_its_contrast(tmp_path):
    res, backend, con = public_run(tmp_path, budget=110, max_optimizer_calls=4)
    assert [it for it, _ in events(con, "plan")] == [1]
    assert backend.counts["candidate"] >= 1 and backend.counts["contrast"] == 1
    assert res.usage["task"]["requests"] <= 110
    assert len(res.candidates) >= 2  # the initial prompt and a completed one


def test_the_dry_run_prints_the_plan_in_words(tmp_path):
    proc = run_cli(
        "--budget",
        "300",
        "--max-optimizer-calls",
        "20",
        "--dry-run",
        "--run-dir",
        str(tmp_path / "r"),
    )
    assert proc.returncode == 0, proc.stderr
    said = proc.stdout + proc.stderr
    assert "2 iterations" in said and "6 candidates" in said
    assert "first scored on a shared minibatch of 10 training items" in said
    paper = run_cli(
        "--budget",
        "300",
        "--max-optimizer-calls",
        "20",
        "--set",
        "profile=paper",
        "--dry-run",
        "--run-dir",
        str(tmp_path / "r"),
    )
    assert "1 iteration" in paper.stdout + paper.stderr
    assert "4 candidates" in paper.stdout + paper.stderr
