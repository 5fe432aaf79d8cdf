"""LCP's settings and its two profiles (the budget's default and the paper's): what each
changes in the requests and the scoring, and how bad values are refused before anything runs."""

from __future__ import annotations

import json
import random
import re
import sqlite3
import subprocess
import sys
from collections import Counter

import pytest

from contrastprompt.optimizers import LCP, build_optimizer, parse_settings
from contrastprompt.optimizers.lcp import sample_failures, telling_examples
from contrastprompt.run.context import Candidate
from contrastprompt.scoring import Record


def fails(targets: list[str]) -> list[Record]:
    return [Record(f"e{i}", "q", "a", "a", t, 0.0) for i, t in enumerate(targets)]


def test_by_label_sampling_covers_every_label_before_repeating_one():
    # 30 failures of one label, 2 of another, 1 of a third: a random 6 is mostly the first
    pool = fails(["Number"] * 30 + ["Human"] * 2 + ["Location"])
    for seed in range(20):
        got = sample_failures(pool, 6, random.Random(seed), "by_label")
        counts = Counter(r.target for r in got)
        assert set(counts) == {"Number", "Human", "Location"}
        assert counts["Location"] == 1 and counts["Human"] == 2 and counts["Number"] == 3
        assert len({r.example_id for r in got}) == 6
    randoms = [
        Counter(r.target for r in sample_failures(pool, 6, random.Random(s), "random"))
        for s in range(20)
    ]
    assert sum("Location" in c for c in randoms) < 20  # the paper's sample often misses it


def test_sampling_takes_what_there_is_and_is_seeded():
    pool = fails(["A", "B"])
    assert len(sample_failures(pool, 5, random.Random(0), "by_label")) == 2
    a = sample_failures(fails(list("AABBC") * 4), 4, random.Random(3), "by_label")
    b = sample_failures(fails(list("AABBC") * 4), 4, random.Random(3), "by_label")
    assert [r.example_id for r in a] == [r.example_id for r in b]


class _Seeded:
    """What `LCP._sample` needs of a run context: its seeded streams."""

    def rng(self, *label: object) -> random.Random:
        return random.Random(repr(label))


def test_failures_are_drawn_by_label_by_default_and_at_random_in_the_paper_profile():
    pool = fails(["Number"] * 30 + ["Human"] * 2 + ["Location"])
    got = LCP()._sample(_Seeded(), 1, pool, 6, set())
    assert Counter(r.target for r in got) == Counter(Number=3, Human=2, Location=1)
    paper = LCP(profile="paper")._sample(_Seeded(), 1, pool, 6, set())
    assert [r.example_id for r in paper] == [
        r.example_id for r in sample_failures(pool, 6, _Seeded().rng("failures", 1), "random")
    ]
    # off the minibatch when enough failures are: the race is on items no reason saw
    held = {f"e{i}" for i in range(20)}
    assert not {r.example_id for r in LCP()._sample(_Seeded(), 1, pool, 6, held)} & held


def test_the_paper_profile_sets_what_is_not_given_beside_it():
    paper = LCP(profile="paper").s
    assert (paper.screen, paper.reasons_per_call, paper.examples, paper.guard) == (0, 1, 0, False)
    given = build_optimizer("lcp", **parse_settings("lcp", ["profile=paper", "guard=true"])).s
    assert given.guard is True and given.screen == 0
    assert (LCP().s.screen, LCP().s.reasons_per_call, LCP().s.guard) == (10, 5, True)
    with pytest.raises(ValueError, match="profile must be one of"):
        LCP(profile="nope")


def test_set_converts_to_each_settings_type_and_refuses_bad_values():
    assert parse_settings("lcp", ["profile=paper", "max_failures=6"]) == {
        "profile": "paper",
        "max_failures": 6,
    }
    assert parse_settings("lcp", ["guard=false"]) == {"guard": False}
    assert build_optimizer("lcp", screen=0, examples=0).s.screen == 0  # 0: off
    from contrastprompt.errors import UserError

    for bad in (["nope=1"], ["max_failures=six"], ["max_failures"], ["guard=maybe"]):
        with pytest.raises(UserError):
            parse_settings("lcp", bad)


@pytest.mark.parametrize(
    "setting, says",
    [
        ("profile=nope", "profile must be one of"),
        ("nope=1", "lcp has no setting 'nope'"),
    ],
)
def test_bad_set_on_the_command_line_is_one_line_and_exit_2(setting, says, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "contrastprompt", "optimize", "-t", "cls:trec", "-p", "x"]
        + ["--set", setting, "--dry-run", "--run-dir", str(tmp_path / "r")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and says in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "r").exists()


def test_bench_takes_a_variant_as_a_method_of_its_own(tmp_path):
    from contrastprompt.bench import check_methods
    from contrastprompt.errors import UserError
    from contrastprompt.optimizers import build_variant

    spec = "lcp+profile=paper+max_failures=6"
    assert check_methods(["lcp", spec]) == ["lcp", spec]
    opt = build_variant(spec)
    assert (opt.name, opt.s.profile, opt.s.max_failures) == ("lcp", "paper", 6)
    assert build_variant("lcp").s == LCP().s
    with pytest.raises(UserError, match="--methods"):
        check_methods(["lcp+nope=1"])
    proc = subprocess.run(
        [sys.executable, "-m", "contrastprompt", "bench", "--tasks", "cls:trec", "--methods"]
        + [f"lcp,{spec}", "--dry-run", "--run-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "2 runs left" in proc.stderr


def _optimizer_kinds(backend) -> Counter:  # noqa: ANN001
    return Counter(kind for kind, _ in backend.requests if kind != "task")


def test_batched_reasons_explain_every_failure_in_fewer_calls(tmp_path):
    from contrastprompt import Task, optimize

    from .scripted import ScriptedBackend, yes_no_examples

    exs = yes_no_examples(40)
    backend = ScriptedBackend(exs)
    res = optimize(
        Task("scripted", exs),
        "Answer the question.",
        model=backend,
        run_dir=tmp_path / "run",
        n_train=20,
        test_limit=10,
        iterations=1,
        candidates=2,
        max_failures=10,
        reasons_per_call=4,
    )
    kinds = _optimizer_kinds(backend)
    assert kinds["reason"] == 0 and kinds["reasons"] == 3  # 10 failures, 4 a call
    with sqlite3.connect(res.run_dir / "store.sqlite") as con:
        sql = "select data from events where kind = 'reasons'"
        got = json.loads(con.execute(sql).fetchone()[0])["reasons"]
    assert len(got) == 10 and len({r["example_id"] for r in got}) == 10
    assert any(c["origin"] == "contrast" for c in res.candidates)


def test_under_a_call_cap_batched_reasons_leave_room_for_more_prompts(tmp_path):
    from contrastprompt import Task, optimize

    from .scripted import ScriptedBackend, default_reply, yes_no_examples

    def reply(kind: str, text: str, n: int) -> str:  # every contrast writes a new prompt
        if kind == "contrast":
            return f"<patterns>p</patterns><prompt>Be specific: GOOD{n} round {n}.</prompt>"
        return default_reply(kind, text, n)

    scored = {}
    for k in (1, 5):
        exs = yes_no_examples(40)
        res = optimize(
            Task("scripted", exs),
            "Answer the question.",
            model=ScriptedBackend(exs, reply),
            run_dir=tmp_path / f"k{k}",
            n_train=20,
            test_limit=10,
            iterations=3,
            max_optimizer_calls=12,
            reasons_per_call=k,
            profile="paper",
        )
        scored[k] = len(res.candidates)
    assert scored[5] > scored[1]
    with pytest.raises(ValueError, match="reasons_per_call"):
        LCP(reasons_per_call=0)


def _screen_run(tmp_path, name: str, reply=None, prompt: str = "Answer the question.", **kw):  # noqa: ANN001, ANN201
    from contrastprompt import Task, optimize

    from .scripted import ScriptedBackend, default_reply, yes_no_examples

    exs = yes_no_examples(40)
    backend = ScriptedBackend(exs, reply or default_reply)
    res = optimize(
        Task("scripted", exs),
        prompt,
        model=backend,
        run_dir=tmp_path / name,
        n_train=20,
        test_limit=10,
        **kw,
    )
    con = sqlite3.connect(res.run_dir / "store.sqlite")
    return res, backend, con


def test_under_a_task_budget_screening_tries_more_prompts(tmp_path):
    tried = {}
    for screen in (0, 5):
        _, backend, con = _screen_run(
            tmp_path, f"s{screen}", iterations=1, budget=100, screen=screen, candidates=10
        )
        used = con.execute("select count(*) from evaluations where split = 'train'").fetchone()
        assert used[0] <= 100
        tried[screen] = backend.counts["candidate"]
    assert tried[5] > tried[0]


def test_a_candidate_worse_than_the_current_prompt_on_the_minibatch_stays_out(tmp_path):
    from .scripted import default_reply

    def bad_candidates(kind: str, text: str, n: int) -> str:
        return (
            "<prompt>Guess without reading.</prompt>"
            if kind == "candidate"
            else (default_reply(kind, text, n))
        )

    res, _, con = _screen_run(
        tmp_path, "w", bad_candidates, "Answer GOOD9.", iterations=1, candidates=3, screen=5
    )
    ev = json.loads(con.execute("select data from events where kind = 'race'").fetchone()[0])
    worse = {p["hash"] for p in ev["prompts"] if p["origin"] == "candidate"}
    assert ev["incumbent"] > 0 and worse and not worse & set(ev["completed"])
    assert not [c for c in res.candidates if c["origin"] == "candidate"]
    with pytest.raises(ValueError, match="screen"):
        LCP(screen=-1)
    with pytest.raises(ValueError, match="promote"):
        LCP(promote=0)


def _cand(name: str, right: set[str], ids: list[str], seq: int) -> Candidate:
    recs = [
        Record(i, f"input {i}", "reply", "T" if i in right else "F", "T", float(i in right))
        for i in ids
    ]
    score = sum(r.score for r in recs) / len(recs)
    return Candidate(name, name, "candidate", 1, seq, score, recs)


def test_telling_examples_are_the_items_that_separate_good_from_bad():
    ids = [f"e{i}" for i in range(8)]
    good = [_cand("g1", {"e0", "e1", "e2", "e3"}, ids, 0), _cand("g2", {"e0", "e1", "e4"}, ids, 1)]
    bad = [_cand("b1", {"e1", "e2"}, ids, 2), _cand("b2", {"e5"}, ids, 3)]
    got = telling_examples(good, bad, 10, random.Random(0))
    # margins: e0 +1; e1, e3, e4 +0.5; e2 0; e5 -0.5; e6, e7 0
    assert [r.example_id for r, _ in got][0] == "e0"
    assert {r.example_id for r, _ in got} == {"e0", "e1", "e3", "e4"}
    assert all(r.correct and not w.correct for r, w in got)
    assert len(telling_examples(good, bad, 2, random.Random(0))) == 2
    assert telling_examples(good, bad, 0, random.Random(0)) == []
    # an item one of the shown prompts was never scored on (a minibatch) is left out
    partial = [_cand("g3", {"e0", "e3"}, ["e3", "e4"], 4)]
    assert [r.example_id for r, _ in telling_examples(partial, bad, 5, random.Random(0))] == ["e3"]


def _contrast_requests(backend) -> list[str]:  # noqa: ANN001
    return [
        "\n".join(m.content for m in req.messages)
        for kind, req in backend.requests
        if kind == "contrast"
    ]


def test_the_contrast_shows_labelled_questions_and_where_good_and_bad_disagree(tmp_path):
    """Default: three labelled training questions, then the questions the high-scoring prompts
    answer right and the low-scoring ones wrong, and neither side holds the initial prompt
    (it names no answer). The paper profile shows the prompts and their scores only."""
    shown = {}
    for profile in ("paper", "budget"):
        _, backend, con = _screen_run(
            tmp_path, profile, iterations=1, candidates=4, profile=profile
        )
        (text,) = _contrast_requests(backend)
        assert "{examples}" not in text
        shown[profile] = text
        con.close()
    assert "<question>" not in shown["paper"]
    assert "Answer the question." in shown["paper"]  # the initial prompt, as a bad prompt
    text = shown["budget"]
    assert "Answer the question." not in text
    labelled, _, told = text.partition("Questions that the high-scoring instructions answer")
    assert len(re.findall(r"<question>\n", labelled)) == 3
    assert len(re.findall(r"\nCorrect answer: (?:Yes|No)\n", labelled)) == 3
    # scripted answers: a prompt with GOODk is right on the first k of every 10 items; the
    # four candidates are GOOD1..GOOD4, so the items that separate the top two from the bottom
    # two are those with index % 10 in 1..3
    questions = re.findall(r"<question>\n(.*?)\n</question>", told)
    assert 1 <= len(questions) <= 3
    for q in questions:
        assert 1 <= int(re.search(r"\d+", q).group()) % 10 <= 3


def test_retries_under_a_call_cap_leave_the_contrast_its_call(tmp_path):
    from .scripted import default_reply

    def first_unusable(kind: str, text: str, n: int) -> str:
        if kind == "candidate" and n < 3:  # the first answers are not prompts: retried
            return "Let us analyze:"
        return default_reply(kind, text, n)

    # the paper's schedule: 10 calls are 5 reasons, 4 candidates and the contrast by the
    # plan; the 3 retries of the unusable answers would take the contrast's call if nothing
    # kept it
    res, backend, con = _screen_run(
        tmp_path, "cap", first_unusable, iterations=1, max_optimizer_calls=10, profile="paper"
    )
    kinds = _optimizer_kinds(backend)
    assert sum(kinds.values()) <= 10
    assert kinds["contrast"] == 1
    assert any(c["origin"] == "contrast" for c in res.candidates)
    assert kinds["candidate"] == 4  # the first attempts the plan counted; no retry fits
    skipped = [
        json.loads(d)
        for (d,) in con.execute("select data from events where kind = 'skipped'").fetchall()
    ]
    assert any("not asked" in s.get("raw", "") for s in skipped)


def test_each_reason_stands_beside_its_question_answer_and_reply(tmp_path):
    from .scripted import yes_no_examples

    targets = {e.input: e.target for e in yes_no_examples(40)}
    seen = {}
    for profile in ("paper", "budget"):
        _, backend, con = _screen_run(
            tmp_path, f"q{profile}", iterations=1, candidates=3, profile=profile
        )
        seen[profile] = [
            "\n".join(m.content for m in req.messages)
            for kind, req in backend.requests
            if kind == "candidate"
        ]
        con.close()
    assert all("Correct answer:" not in t for t in seen["paper"])
    case = re.compile(
        r"- Question: (.*?)\n  Correct answer: (\w+)\n  The model replied: Answer: (\w+)\n"
        r"  What went wrong: "
    )
    for text in seen["budget"]:
        cases = case.findall(text)
        assert len(cases) == 5  # subset_size reasons, each after its own question
        assert all(targets[q] == a and reply != a for q, a, reply in cases)


def test_names_an_answer_reads_whole_words_and_label_parts():
    from contrastprompt.data.extract import answer_words, names_an_answer

    sib = ("science/technology", "travel", "politics")
    assert names_an_answer("Say which topic: Science, travel or politics.", sib)
    assert names_an_answer("Is it about technology?", sib)
    assert not names_an_answer("Classify the input according to the given category.", sib)
    assert not names_an_answer("I know the answer.", answer_words("yes/no"))  # 'no' in 'know'
    assert names_an_answer("Reply No when unsure.", answer_words("yes/no"))
    assert answer_words("choice") == () and answer_words("label", sib) == sib


def test_the_format_guard_appends_the_answers_to_a_prompt_that_names_none(tmp_path):
    from .scripted import default_reply

    def vague(kind: str, text: str, n: int) -> str:
        if kind == "candidate" and n % 2:  # every other candidate names no answer
            return f"<prompt>Classify the input by its category, GOOD{n % 10} take {n}.</prompt>"
        if kind == "candidate":
            return f"<prompt>Say Yes or No, GOOD{n % 10} take {n}.</prompt>"
        return default_reply(kind, text, n)

    texts = {}
    for profile in ("paper", "budget"):
        _, backend, con = _screen_run(
            tmp_path, f"st{profile}", vague, iterations=1, candidates=4, profile=profile
        )
        texts[profile] = [
            t for (t,) in con.execute("select text from prompts where origin = 'candidate'")
        ]
        verdicts = [
            json.loads(d) for (d,) in con.execute("select data from events where kind = 'guard'")
        ]
        # two candidates and the contrast prompt ("Be specific: GOOD9 final.") name no answer
        steps = Counter(v["step"] for v in verdicts)
        assert steps == (Counter(candidate=2, contrast=1) if profile == "budget" else Counter())
        assert all(v["action"] == "repair" and v["why"] == "names no answer" for v in verdicts)
        (contrast,) = [
            t for (t,) in con.execute("select text from prompts where origin = 'contrast'")
        ]
        assert contrast.endswith("Answer with Yes or No.") == (profile == "budget")
        con.close()
    assert len(texts["paper"]) == len(texts["budget"]) == 4
    for plain, stated in zip(texts["paper"], texts["budget"], strict=True):
        if "category" in plain:  # named no answer: the sentence is added, the rest kept
            assert stated == plain + "\n\nAnswer with Yes or No."
        else:
            assert stated == plain


def test_a_run_that_cannot_write_another_prompt_under_the_call_cap_stops_and_says_why(tmp_path):
    """Every candidate repeats the prompt it came from, so the pool never holds two prompts to
    contrast; once the cap leaves one call, no prompt can be written and the run must end,
    not spin through its remaining iterations asking nothing."""
    from .scripted import default_reply

    def repeat(kind: str, text: str, n: int) -> str:
        if kind == "candidate":
            return "<prompt>Answer the question.</prompt>"
        return default_reply(kind, text, n)

    res, backend, con = _screen_run(
        tmp_path, "stuck", repeat, iterations=20, budget=60, max_optimizer_calls=10, profile="paper"
    )
    assert "a new candidate needs 2" in res.stop_reason
    assert sum(_optimizer_kinds(backend).values()) >= 9  # the cap was spent, not left unused
    (iterations,) = con.execute("select count(*) from events where kind = 'iteration'").fetchone()
    assert iterations < 20
