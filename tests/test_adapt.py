"""Adaptation: the source-right/target-wrong filter and its fallback, the parallel-data check,
bad input, and the bookkeeping of a scripted model-to-model run (what the optimizer was asked
about). Real runs through the servers: test_adapt_e2e.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from contrastprompt import Task
from contrastprompt.adapt import adapt, parallel_source
from contrastprompt.data.loaders import load_task
from contrastprompt.errors import UserError
from contrastprompt.optimizers.adapt_lcp import transfer_failures
from contrastprompt.scoring import Record
from contrastprompt.store import prompt_hash

from .scripted import ScriptedBackend, yes_no_examples

REPO = Path(__file__).resolve().parents[1]


def rec(i: int, correct: bool) -> Record:
    return Record(
        example_id=f"q{i}",
        input=f"Q{i}",
        output="",
        extracted=None,
        target="Yes",
        score=1.0 if correct else 0.0,
    )


def test_failures_are_source_right_and_target_wrong():
    wrong = [rec(i, correct=False) for i in range(1, 20, 2)]  # odd ids wrong at the target
    source_right = {f"q{i}" for i in range(10)}
    chosen, fell_back = transfer_failures(wrong, source_right, minimum=5)
    assert not fell_back
    assert sorted(r.example_id for r in chosen) == ["q1", "q3", "q5", "q7", "q9"]


def test_fewer_than_the_minimum_falls_back_to_all_target_failures():
    wrong = [rec(i, correct=False) for i in range(1, 20, 2)]
    chosen, fell_back = transfer_failures(wrong, {"q1", "q3"}, minimum=5)
    assert fell_back and len(chosen) == 10


def test_xcopa_languages_are_parallel_and_other_data_is_refused():
    sw, idn = load_task("xcopa:sw"), load_task("xcopa:id")
    train, _ = sw.split(seed=0, n_train=20)
    src = parallel_source(train, idn)
    assert [e.id for e in src] == [e.id for e in train]
    assert src[0].input != train[0].input  # same item, other language
    with pytest.raises(UserError, match="not parallel"):
        parallel_source(train, load_task("bbh:navigate"))
    broken = Task(
        "broken", [], fixed_split=([e for e in idn.fixed_split[0]], []), answer_type="choice"
    )
    flip = next(e for e in broken.fixed_split[0] if e.id == train[0].id)
    flip.target = "(B)" if flip.target == "(A)" else "(A)"
    with pytest.raises(UserError, match="answer"):
        parallel_source(train, broken)


class SourceBackend(ScriptedBackend):
    """Answers right exactly on the examples in `right` (a different model than the target)."""

    def __init__(self, examples, right: set[int]) -> None:  # noqa: ANN001
        super().__init__(examples)
        self.model_id = "scripted:source"
        self.right = right

    def _answer(self, text: str) -> str:
        for inp, (i, target) in self.targets.items():
            if text.endswith(inp):
                wrong = "No" if target == "Yes" else "Yes"
                return f"Answer: {target if i in self.right else wrong}"
        raise AssertionError("unknown input")


def asked_about(backend: ScriptedBackend) -> set[str]:
    """The questions the optimizer was asked reasons for."""
    out = set()
    for kind, r in backend.requests:
        if kind in ("reason", "reasons"):
            text = r.messages[0].content
            out |= {e for e in text.split("\n") if e.startswith("Question number")}
    return out


@pytest.mark.parametrize("right_count", [30, 2])
def test_adapted_run_asks_reasons_only_for_transfer_failures(tmp_path, right_count):
    exs = yes_no_examples(40)
    task = Task("scripted", exs)
    right = set(range(right_count))
    source = SourceBackend(exs, right)
    target = ScriptedBackend(exs)  # the initial prompt gets everything wrong on the target
    kw = dict(source_model=source, model=target, n_train=20, iterations=1, candidates=2)
    adapt(task, "Answer the question.", run_dir=tmp_path / "a", scratch=False, **kw)
    train, _ = task.split(seed=0, n_train=20)
    asked = asked_about(target)
    expected_ids = {int(e.id[1:]) for e in train if int(e.id[1:]) in right}
    if right_count == 30:
        assert asked and asked <= {f"Question number {i}?" for i in expected_ids}
    else:  # fewer than 5 source-right items: every target failure may be asked about
        assert len(asked) > len(expected_ids)
    # the same command with the from-scratch run: the adapted run resumes, scratch is added
    before = source.counts["task"]
    seen: list[tuple[str, dict]] = []
    res = adapt(
        task,
        "Answer the question.",
        run_dir=tmp_path / "a",
        scratch=True,
        on_event=lambda kind, data: seen.append((kind, data)),
        **kw,
    )
    parts = [d["name"] for k, d in seen if k == "part"]
    assert parts == ["source prompt in the source setting", "adapted", "LCP from scratch"]
    assert any(k == "scored" for k, _ in seen)  # the runs' own events reach the caller too
    assert source.counts["task"] == before  # the source side is stored, not asked again
    names = [r["name"] for r in res.rows]
    assert names[0] == "source prompt as is" and names[-1].startswith("LCP from scratch")
    assert res.mode == "model" and res.source["requests"] == 20
    saved = json.loads((tmp_path / "a" / "adapt.json").read_text())
    assert saved["source"]["right"] == len([e for e in train if int(e.id[1:]) in right])
    page = (tmp_path / "a" / "adapt.html").read_text()
    for label in ("as is", "adapted", "adapted, last", "scratch"):
        assert f'data-method="{label}"' in page, label
    assert 'href="adapted/report.html"' in page and 'href="scratch/report.html"' in page
    settings = json.loads((tmp_path / "a" / "adapted" / "run.json").read_text())["settings"]
    assert settings["source"]["model"] == "scripted:source" and settings["method"] == "lcp-adapt"
    # efficiency: the adapted run's curve against the from-scratch run's final training score
    e = saved["efficiency"]
    scratch = json.loads((tmp_path / "a" / "scratch" / "run.json").read_text())
    adapted = json.loads((tmp_path / "a" / "adapted" / "run.json").read_text())
    assert e["scratch_train"] == scratch["results"]["best_train_score"]
    assert e["scratch_requests"] == scratch["usage"]["task"]["requests"]
    reached = [c for c in adapted["candidates"] if c["score"] >= e["scratch_train"]]
    assert (e["adapted_to_reach"] is None) == (not reached)
    if reached:
        assert 0 < e["adapted_to_reach"] <= adapted["usage"]["task"]["requests"]
    # the gap, paired on the test items: a share recovered only where it is beyond noise
    mean, lo, hi = saved["scratch_over_as_is"]
    mine = scratch["test_items"][prompt_hash(scratch["results"]["best_prompt"])]
    theirs = adapted["test_items"][prompt_hash(adapted["results"]["initial_prompt"])]
    assert mean == pytest.approx(sum(mine[k] - theirs[k] for k in mine) / len(mine))
    assert lo <= mean <= hi and (saved["recovered"] is None) == (lo <= 0 or mean <= 0)

    # kept without its stores (as under version control), the run dir answers the same
    # command from source.json and each part's run.json: no model is asked anything
    for db in (tmp_path / "a").rglob("*.sqlite"):
        db.unlink()
    asked = source.counts["task"], sum(target.counts.values())
    seen.clear()
    again = adapt(
        task,
        "Answer the question.",
        run_dir=tmp_path / "a",
        scratch=True,
        on_event=lambda kind, data: seen.append((kind, data)),
        **kw,
    )
    assert (source.counts["task"], sum(target.counts.values())) == asked
    assert [k for k, _ in seen].count("read_back") == 2
    assert again.rows == res.rows and again.efficiency == res.efficiency
    assert again.scratch_over_as_is == res.scratch_over_as_is
    from contrastprompt.views.adapt import kept_result  # adapt.json read back, as benches do

    back = kept_result(tmp_path / "a")
    assert (back.rows, back.efficiency, back.recovered, back.scratch_over_as_is) == (
        res.rows,
        res.efficiency,
        res.recovered,
        res.scratch_over_as_is,
    )


def scripted_adapt(run_dir: Path, **kw: object) -> dict[str, dict]:
    """A scripted model-to-model adapt run on 20 training items (the source model right on the
    first 30 of 40); each LCP part's run.json."""
    exs = yes_no_examples(40)
    adapt(
        Task("scripted", exs),
        "Answer the question.",
        source_model=SourceBackend(exs, set(range(30))),
        model=ScriptedBackend(exs),
        n_train=20,
        run_dir=run_dir,
        **kw,
    )
    return {
        part: json.loads((run_dir / part / "run.json").read_text())
        for part in ("adapted", "scratch")
    }


def test_scratch_budget_gives_lcp_from_scratch_its_own_task_budget(tmp_path):
    """Adapting at half the from-scratch budget: each run stops at its own budget."""
    runs = scripted_adapt(tmp_path / "a", iterations=4, candidates=2, budget=50, scratch_budget=100)
    used = {part: run["usage"]["task"]["requests"] for part, run in runs.items()}
    assert used["adapted"] <= 50 < used["scratch"] <= 100


@pytest.mark.parametrize("profile", ["budget", "paper"])
def test_lcp_settings_reach_the_adapted_and_the_from_scratch_run(tmp_path, profile):
    """`lcp_settings` (the CLI's --set) are given to both LCP parts. By default both race
    their candidates on minibatches (LCP from scratch is the default LCP); in the paper
    profile both score every prompt on the whole training set."""
    import sqlite3

    settings = {} if profile == "budget" else {"profile": "paper"}
    runs = scripted_adapt(tmp_path / "a", budget=60, iterations=1, lcp_settings=settings)
    for part, run in runs.items():
        assert run["settings"]["method_settings"]["profile"] == profile
        con = sqlite3.connect(tmp_path / "a" / part / "store.sqlite")
        raced = con.execute("select count(*) from events where kind = 'race'").fetchone()[0]
        sizes = {
            n
            for (n,) in con.execute(
                "select count(*) from evaluations where split = 'train' group by prompt_hash"
            )
        }
        con.close()
        assert (raced > 0) == (profile == "budget"), part
        assert (10 in sizes) == (profile == "budget"), (part, sizes)  # a 10-item minibatch


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "contrastprompt", "adapt", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_bad_input_is_one_line_and_exit_2(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n")
    cases = [
        (["--task", "bbh:navigate", "--prompt", "Answer."], "same setting"),
        (
            ["--task", "xcopa:xx", "--source-task", "xcopa:id", "--prompt", "Answer."],
            "unknown XCOPA",
        ),
        (["--task", "xcopa:sw", "--source-task", "bbh:navigate", "--prompt", "A."], "not parallel"),
        (["--task", "xcopa:sw", "--source-task", "xcopa:id", "--prompt-file", str(empty)], "empty"),
        (
            ["--task", "xcopa:sw", "--source-task", "xcopa:id", "--prompt-file", "nope.txt"],
            "does not exist",
        ),
        (
            [
                "--task",
                "xcopa:sw",
                "--source-task",
                "xcopa:id",
                "--prompt",
                "A.",
                "--prompt-language",
                "klingon",
            ],
            "--prompt-language",
        ),
        (
            ["--task", "bbh:navigate", "--source-model", "local:qwen2.5-coder-0.5b"]
            + ["--prompt", "A.", "--meta-language", "target"],
            "--meta-language applies to language adaptation only",
        ),
        (
            ["--task", "xcopa:sw,xcopa:id", "--source-task", "xcopa:et", "--prompt", "A."],
            "--matrix",
        ),
        (
            ["--task", "xcopa:sw,xcopa:id", "--target-model", "a,b", "--matrix", "--prompt", "A."],
            "not both",
        ),
        (
            ["--task", "bbh:navigate", "--source-model", "local:smollm2-135m", "--matrix"]
            + ["--prompt", "A."]
            + ["--target-model", "local:qwen2.5-coder-0.5b,local:smollm2"],
            "target 'local:smollm2' is the source setting",
        ),
        (
            ["--task", "xcopa:sw", "--source-task", "xcopa:id", "--prompt", "A."]
            + ["--no-scratch", "--scratch-budget", "100"],
            "--scratch-budget",
        ),
        (
            ["--task", "xcopa:sw", "--source-task", "xcopa:id", "--prompt", "A."]
            + ["--set", "reasons_read_only=true"],
            "lcp has no setting 'reasons_read_only'",
        ),
        (
            ["--task", "xcopa:sw", "--source-task", "xcopa:id", "--prompt", "A."]
            + ["--set", "guard=maybe"],
            "guard takes a bool",
        ),
    ]
    for args, message in cases:
        p = cli(*args, "--run-dir", str(tmp_path / "r"))
        assert p.returncode == 2, (args, p.stderr)
        assert message in p.stderr and "Traceback" not in p.stderr, (args, p.stderr)


def translating(drop: str = "") -> object:
    """An optimizer that 'translates' a template by tagging it [sw]; it loses the placeholder
    `drop` (when given) from any template that holds it."""

    def reply(kind: str, text: str, n: int) -> str:
        if kind == "translate":
            body = text.split("<text>\n", 1)[1].rsplit("\n</text>", 1)[0]
            if drop:
                body = body.replace(drop, "")
            return f"<translation>[sw] {body}</translation>"
        from .scripted import default_reply

        return default_reply(kind, text, n)

    return reply


@pytest.mark.parametrize("drop", ["", "{good}"])
def test_meta_language_sends_translated_templates_and_keeps_english_when_a_field_is_lost(
    tmp_path, drop
):
    from contrastprompt import optimize
    from contrastprompt.optimizers.adapt_lcp import AdaptLCP

    exs = yes_no_examples(40)
    backend = ScriptedBackend(exs, translating(drop))
    # a language languages.py does not know: only the placeholders are checked here
    opt = AdaptLCP(set(), meta_language="Esperanto", candidates=2)
    res = optimize(
        Task("scripted", exs),
        "Answer.",
        method=opt,
        model=backend,
        n_train=20,
        iterations=2,
        run_dir=tmp_path / "r",
    )
    assert backend.counts["translate"] == 3  # once per template, not once per iteration
    sent = {
        kind: [r.messages[0].content for k, r in backend.requests if k == kind]
        for kind in ("reasons", "candidate", "contrast")
    }
    assert sent["reasons"] and all(t.startswith("[sw] ") for t in sent["reasons"])
    assert sent["candidate"] and all(t.startswith("[sw] ") for t in sent["candidate"])
    contrast_translated = [t.startswith("[sw] ") for t in sent["contrast"]]
    assert sent["contrast"] and all(contrast_translated) == (drop == "")
    assert not any("{good}" in t or "{reasons}" in t for ts in sent.values() for t in ts)
    from contrastprompt.store import Store

    store = Store(tmp_path / "r" / "store.sqlite")
    (ev,) = store.events(1, "meta_language")
    kept = {t["template"]: t["translated"] for t in ev["data"]["templates"]}
    assert kept == {"reasons": True, "candidate": True, "contrast": drop == ""}
    assert ev["data"]["language"] == "Esperanto"
    assert res.initial_train_score <= res.best_train_score <= 1.0


def test_a_translation_in_another_language_or_without_its_fields_is_not_used():
    from contrastprompt.optimizers.adapt_lcp import translation_problem
    from contrastprompt.optimizers.base import template

    english = template("lcp_candidate.txt")
    fields = "{prompt} {reasons} {examples} {answer_format} <prompt> </prompt> <prompt> </prompt>"
    swahili = f"Maagizo mapya ya swali na jibu kwa kazi hii ni {fields}"
    italian = f"La nuova istruzione è una risposta per il compito e la domanda {fields}"
    assert translation_problem(swahili, english, "Swahili") == ""
    # what the 1.5B answered when asked for Swahili (bench, this README): Italian
    assert translation_problem(italian, english, "Swahili") == "not in Swahili (reads as Italian)"
    assert "placeholders" in translation_problem(
        swahili.replace("{reasons}", ""), english, "Swahili"
    )
    assert translation_problem(None, english, "Swahili") == "no translation in the answer"


def test_target_language_comes_from_the_family_and_reaches_the_optimizer(tmp_path):
    """A SIB-style target (language code `swh_Latn`) with `prompt_language="both"` runs the
    English variant and a Swahili one under its own name, and only the latter asks for Swahili."""
    exs = yes_no_examples(40)
    src = Task("scripted:eng_Latn", exs, language="eng_Latn")
    tgt = Task("scripted:swh_Latn", exs, language="swh_Latn")
    backend = ScriptedBackend(exs)
    res = adapt(
        tgt,
        "Answer the question.",
        source_task=src,
        model=backend,
        prompt_language="both",
        n_train=20,
        iterations=1,
        candidates=2,
        scratch=False,
        run_dir=tmp_path / "a",
    )
    assert (tmp_path / "a" / "adapted").is_dir() and (tmp_path / "a" / "adapted-swh_Latn").is_dir()
    asks = [
        "Write the instruction itself in Swahili" in r.messages[0].content
        for k, r in backend.requests
        if k == "candidate"
    ]
    assert any(asks) and not all(asks)  # the English variant never asks for Swahili
    assert set(res.source["drift"]) == {"adapted", "adapted-swh_Latn"}
    assert res.source["drift"]["adapted-swh_Latn"]["expected"] == "swh_Latn"


def test_target_language_needs_a_known_language(tmp_path):
    rows = [json.dumps({"input": f"Q{i}?", "target": "Yes" if i % 2 else "No"}) for i in range(30)]
    for name in ("a.jsonl", "b.jsonl"):
        (tmp_path / name).write_text("\n".join(rows) + "\n")
    args = ["--task", str(tmp_path / "b.jsonl"), "--source-task", str(tmp_path / "a.jsonl")]
    p = cli(
        *args, "--prompt", "A.", "--prompt-language", "target", "--run-dir", str(tmp_path / "r")
    )
    assert p.returncode == 2, p.stderr
    assert "needs a task whose language is known" in p.stderr and "Traceback" not in p.stderr
    assert not (tmp_path / "r" / "source").exists()  # refused before any model call


def _result_for(tmp_path: Path, as_is: float, adapted: float, scratch: float):
    from contrastprompt.adapt import AdaptResult

    def row(name: str, test: float, req: int) -> dict:
        return {
            "name": name,
            "test": test,
            "train": test,
            "task_requests": req,
            "optimizer_calls": 4,
            "prompt": name,
            "run_dir": str(tmp_path),
        }

    return AdaptResult(
        run_dir=tmp_path,
        mode="language",
        rows=[
            row("source prompt as is", as_is, 50),
            row("adapted (best on train)", adapted, 200),
            row("LCP from scratch (best on train)", scratch, 300),
        ],
        gap_before=as_is - scratch,
        gap_after=adapted - scratch,
        source={"requests": 50},
        recovered=(adapted - as_is) / (scratch - as_is),
        efficiency={"adapted_to_reach": 150, "scratch_requests": 300},
        scratch_over_as_is=[scratch - as_is, scratch - as_is - 0.1, scratch - as_is + 0.1],
    )


def test_transfer_matrix_has_a_row_per_target_and_the_spread_across_them(tmp_path):
    from contrastprompt.views.adapt import matrix

    # per-item test scores of the Swahili rows (each row's prompt is its name): adapted right
    # on 11 of 20 items, from scratch on those and one more
    ids = [str(i) for i in range(20)]
    kept = {
        prompt_hash("adapted (best on train)"): {i: float(int(i) < 11) for i in ids},
        prompt_hash("LCP from scratch (best on train)"): {i: float(int(i) < 12) for i in ids},
    }
    (tmp_path / "swh").mkdir()
    (tmp_path / "swh" / "run.json").write_text(json.dumps({"test_items": kept}))
    (tmp_path / "hin").mkdir()  # no per-item scores kept: no paired figure
    entries = [
        ("swh_Latn", _result_for(tmp_path / "swh", 0.40, 0.55, 0.60)),
        ("hin_Deva", _result_for(tmp_path / "hin", 0.30, 0.50, 0.70)),
    ]
    lines = matrix(entries, spread=True).splitlines()
    swh = next(line for line in lines if line.startswith("| swh_Latn"))
    cells = [c.strip() for c in swh.strip("|").split("|")]
    assert cells[1:5] == ["40.0%", "55.0%", "60.0%", "+20.0 (+10.0, +30.0)"]
    # adapted minus from scratch, paired on the items: one item of 20 against adapting
    mean, interval = cells[5].split(" ", 1)
    lo, hi = (float(v) for v in interval.strip("()").split(", "))
    assert mean == "-5.0" and lo < -5.0 and hi <= 0.0
    assert cells[6:10] == ["-20.0", "-5.0", "75.0%", "150"]
    assert cells[10] == "200 / 300"
    hin = next(line for line in lines if line.startswith("| hin_Deva"))
    assert [c.strip() for c in hin.strip("|").split("|")][5] == "–"
    # as is spans 40 - 30 = 10 points across the targets; adapted 55 - 50 = 5
    assert "source prompt as is 10.0 points, adapted 5.0 points" in lines[-1]


def _kept_run(d: Path, prompt: str, items: dict[str, float]) -> SimpleNamespace:
    """A finished part as its run.json keeps it: the per-item test scores of one prompt."""
    d.mkdir(parents=True)
    kept = {"results": {}, "test_items": {prompt_hash(prompt): items}}
    (d / "run.json").write_text(json.dumps(kept))
    return SimpleNamespace(run_dir=d, initial_prompt=prompt, best_prompt=prompt)


def test_a_gap_of_a_few_items_is_noise_and_one_of_many_is_a_gap(tmp_path):
    from contrastprompt.adapt import _scratch_over_as_is

    ids = [str(i) for i in range(200)]
    as_is = _kept_run(tmp_path / "a", "as is", {i: float(int(i) < 92) for i in ids})
    near = _kept_run(tmp_path / "s", "near", {i: float(int(i) < 93) for i in ids})
    m, lo, hi = _scratch_over_as_is(as_is, near)
    assert m == pytest.approx(0.005) and lo <= 0 <= hi  # one item in 200: within noise
    far = _kept_run(tmp_path / "f", "far", {i: float(int(i) < 140) for i in ids})
    m, lo, _ = _scratch_over_as_is(as_is, far)
    assert m == pytest.approx(0.24) and lo > 0
    assert _scratch_over_as_is(as_is, None) is None


def test_the_gap_verdict_follows_the_paired_interval():
    from contrastprompt.views.adapt import _gap_verdict

    assert _gap_verdict([0.30, 0.21, 0.385]) == ": a gap."
    assert "below the carried prompt" in _gap_verdict([-0.225, -0.29, -0.165])
    assert "no gap beyond noise" in _gap_verdict([0.005, -0.04, 0.05])


def test_a_pair_run_dir_of_any_task_names_its_matrix_row():
    """The pairs bench names a row from its run dir: task, source and target model (names with
    hyphens), seed; for any task family, not only the ones it was first run on."""
    bench = Path(__file__).resolve().parents[1] / "bench"
    sys.path.insert(0, str(bench))
    try:
        from adapt_pairs import pair_label
    finally:
        sys.path.pop(0)
    assert (
        pair_label("sib-swh_Latn-qwen2.5-coder-0.5b-to-smollm2-135m-s2")
        == "sib:swh_Latn: qwen2.5-coder-0.5b → smollm2-135m s2"
    )
    assert pair_label("cls-trec-unknown-model-to-x-s0") == "cls-trec-unknown-model-to-x-s0"
