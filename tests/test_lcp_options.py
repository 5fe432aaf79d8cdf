"""LCP's options beyond the paper, each off by default: what they change, and how bad values
are refused before anything runs."""

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


def test_default_is_the_papers_random_sample():
    assert LCP().s.failure_sampling == "random"
    assert build_optimizer("lcp", failure_sampling="by_label").s.failure_sampling == "by_label"


def test_set_converts_to_each_settings_type_and_refuses_bad_values():
    assert parse_settings("lcp", ["failure_sampling=by_label", "max_failures=6"]) == {
        "failure_sampling": "by_label",
        "max_failures": 6,
    }
    assert parse_settings("lcp", ["fit-budget=false"]) == {"fit_budget": False}
    from contrastprompt.errors import UserError

    for bad in (["nope=1"], ["max_failures=six"], ["max_failures"], ["fit_budget=maybe"]):
        with pytest.raises(UserError):
            parse_settings("lcp", bad)


@pytest.mark.parametrize(
    "setting, says",
    [
        ("failure_sampling=nope", "failure_sampling must be one of"),
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

    spec = "lcp+failure_sampling=by_label+max_failures=6"
    assert check_methods(["lcp", spec]) == ["lcp", spec]
    opt = build_variant(spec)
    assert (opt.name, opt.s.failure_sampling, opt.s.max_failures) == ("lcp", "by_label", 6)
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


def test_screening_scores_only_the_best_on_the_minibatch_in_full(tmp_path):
    res, _, con = _screen_run(tmp_path, "s", iterations=1, candidates=6, screen=5, promote=2)
    ev = json.loads(con.execute("select data from events where kind = 'screened'").fetchone()[0])
    assert len(ev["items"]) == 5 and len(ev["scores"]) == 6
    counts = dict(
        con.execute(
            "select p.meta, count(*) from prompts p join evaluations e on e.prompt_hash = p.hash "
            "where p.origin = 'candidate' and e.split = 'train' group by p.hash"
        ).fetchall()
    )
    assert sorted(counts.values()) == [5, 5, 5, 5, 20, 20]  # 4 screened out, 2 in full
    full = {json.loads(m)["index"] for m, n in counts.items() if n == 20}
    assert full == set(ev["promoted"])
    by_index = dict((i, s) for i, s in ev["scores"])
    worst_promoted = min(by_index[i] for i in full)
    assert all(s <= worst_promoted for i, s in by_index.items() if i not in full)
    requests = con.execute("select count(*) from evaluations where split = 'train'").fetchone()[0]
    assert requests == 20 + 6 * 5 + 2 * 15 + 20  # initial, minibatches, the rest, contrast
    assert sum(c["origin"] == "candidate" for c in res.candidates) == 2
    assert any(c["origin"] == "contrast" for c in res.candidates)


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
    ev = json.loads(con.execute("select data from events where kind = 'screened'").fetchone()[0])
    assert ev["current"] > 0 and ev["promoted"] == []
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


def test_contrast_examples_show_separating_questions_and_default_shows_none(tmp_path):
    shown = {}
    for k in (0, 3):
        _, backend, con = _screen_run(
            tmp_path, f"c{k}", iterations=1, candidates=4, contrast_examples=k
        )
        (text,) = _contrast_requests(backend)
        assert "{examples}" not in text
        shown[k] = re.findall(r"<question>\n(.*?)\n</question>", text)
        con.close()
    assert shown[0] == []
    assert len(shown[3]) == 3
    # scripted answers: a prompt with GOODk is right on the first k of every 10 items, so the
    # items that separate the best candidate from the worst are those with index % 10 < k
    for q in shown[3]:
        assert int(re.search(r"\d+", q).group()) % 10 < 9
    with pytest.raises(ValueError, match="contrast_examples"):
        LCP(contrast_examples=-1)


def test_retries_under_a_call_cap_leave_the_contrast_its_call(tmp_path):
    from .scripted import default_reply

    def first_unusable(kind: str, text: str, n: int) -> str:
        if kind == "candidate" and n < 3:  # the first answers are not prompts: retried
            return "Let us analyze:"
        return default_reply(kind, text, n)

    # 10 calls: 5 reasons, 4 candidates and the contrast by the plan; the 3 retries of the
    # unusable answers would take the contrast's call if nothing kept it
    res, backend, con = _screen_run(
        tmp_path, "cap", first_unusable, iterations=1, max_optimizer_calls=10
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


def test_reasons_with_questions_show_each_reason_after_its_question_and_answer(tmp_path):
    from .scripted import yes_no_examples

    targets = {e.input: e.target for e in yes_no_examples(40)}
    seen = {}
    for on in (False, True):
        _, backend, con = _screen_run(
            tmp_path, f"q{on}", iterations=1, candidates=3, reasons_with_questions=on
        )
        texts = [
            "\n".join(m.content for m in req.messages)
            for kind, req in backend.requests
            if kind == "candidate"
        ]
        seen[on] = texts
        con.close()
    assert all("Correct answer:" not in t for t in seen[False])
    for text in seen[True]:
        cases = re.findall(r"- Question: (.*?)\n  Correct answer: (\w+)\n  What went wrong: ", text)
        assert len(cases) == 5  # subset_size reasons, each after its own question
        assert all(targets[q] == a for q, a in cases)
    # the same subsets of reasons, in the same order, with or without their questions
    strip = re.compile(r"- Question: .*?\n  Correct answer: \w+\n  What went wrong: ")
    assert [strip.sub("- ", t) for t in seen[True]] == seen[False]


def test_names_an_answer_reads_whole_words_and_label_parts():
    from contrastprompt.data.extract import answer_words, names_an_answer

    sib = ("science/technology", "travel", "politics")
    assert names_an_answer("Say which topic: Science, travel or politics.", sib)
    assert names_an_answer("Is it about technology?", sib)
    assert not names_an_answer("Classify the input according to the given category.", sib)
    assert not names_an_answer("I know the answer.", answer_words("yes/no"))  # 'no' in 'know'
    assert names_an_answer("Reply No when unsure.", answer_words("yes/no"))
    assert answer_words("choice") == () and answer_words("label", sib) == sib


def test_state_labels_appends_the_answers_to_a_prompt_that_names_none(tmp_path):
    from .scripted import default_reply

    def vague(kind: str, text: str, n: int) -> str:
        if kind == "candidate" and n % 2:  # every other candidate names no answer
            return f"<prompt>Classify the input by its category, GOOD{n % 10} take {n}.</prompt>"
        if kind == "candidate":
            return f"<prompt>Say Yes or No, GOOD{n % 10} take {n}.</prompt>"
        return default_reply(kind, text, n)

    texts = {}
    for on in (False, True):
        res, _, con = _screen_run(
            tmp_path, f"st{on}", vague, iterations=1, candidates=4, state_labels=on
        )
        texts[on] = [c["text"] for c in res.candidates if c["origin"] == "candidate"]
        steps = Counter(
            json.loads(d)["step"]
            for (d,) in con.execute("select data from events where kind = 'labels_stated'")
        )
        # two candidates and the contrast prompt ("Be specific: GOOD9 final.") name no answer
        assert steps == (Counter(candidate=2, contrast=1) if on else Counter())
        contrast = next(c["text"] for c in res.candidates if c["origin"] == "contrast")
        assert contrast.endswith("Answer with Yes or No.") == on
        con.close()
    assert len(texts[False]) == len(texts[True]) == 4
    for plain, stated in zip(texts[False], texts[True], strict=True):
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
        tmp_path, "stuck", repeat, iterations=20, budget=60, max_optimizer_calls=10
    )
    assert "a new candidate needs 2" in res.stop_reason
    assert sum(_optimizer_kinds(backend).values()) >= 9  # the cap was spent, not left unused
    (iterations,) = con.execute("select count(*) from events where kind = 'iteration'").fetchone()
    assert iterations < 20
