"""`contrastprompt.dspy.LCP`'s bookkeeping: a two-predictor program whose answers depend on its
instructions in a known way (no LM), and the scripted optimizer. The program on the embedded
model through DSPy's own LM client is tested in test_dspy_e2e.py."""

from __future__ import annotations

import json
import re
import sqlite3
from typing import Literal

import dspy
import pytest

from contrastprompt.dspy import LCP, ProgramError
from contrastprompt.errors import UserError

from .scripted import ScriptedBackend

CALLS: list[str] = []  # every program call, from every copy and thread


def _good(instructions: str) -> int:
    m = re.search(r"GOOD(\d+)", instructions)
    return int(m.group(1)) if m else 0


class TwoSteps(dspy.Module):
    """Step one tags the number, step two answers from the tag. The program is right on the
    first k1 + k2 of every 10 inputs when the steps' instructions say GOODk1 and GOODk2."""

    def __init__(self, fail_on: int | None = None) -> None:
        super().__init__()
        self.tag = dspy.Predict("number -> tag")
        self.answer = dspy.Predict("number, tag -> parity")
        self.fail_on = fail_on

    def forward(self, number: str) -> dspy.Prediction:
        CALLS.append(number)
        n = int(number)
        if n == self.fail_on:
            raise ValueError("the reply could not be parsed")
        k = sum(_good(p.signature.instructions) for _, p in self.named_predictors())
        k += getattr(dspy.settings.lm, "bonus", 0)  # a stand-in LM that knows more
        right = "even" if n % 2 == 0 else "odd"
        return dspy.Prediction(parity=right if n % 10 < k else "unsure")


def parity(example, prediction, trace=None) -> bool:
    return prediction.parity == example.parity


def data(lo: int, hi: int) -> list:
    return [
        dspy.Example(number=str(i), parity="even" if i % 2 == 0 else "odd").with_inputs("number")
        for i in range(lo, hi)
    ]


def optimizer(tmp_path, **kw) -> LCP:
    kw.setdefault("budget", 120)
    kw.setdefault("iterations", 1)
    kw.setdefault("settings", {"candidates": 2, "top_k": 2})
    return LCP(parity, optimizer_lm=ScriptedBackend([]), run_dir=tmp_path / "runs", **kw)


def test_each_predictor_gets_the_best_instructions_and_its_own_run(tmp_path):
    student = TwoSteps()
    opt = optimizer(tmp_path)
    tuned = opt.compile(student, trainset=data(0, 20), valset=data(20, 40))
    assert set(opt.results) == {"tag", "answer"}
    for name, pred in tuned.named_predictors():
        res = opt.results[name]
        assert pred.signature.instructions == res.best_prompt
        run = json.loads((res.run_dir / "run.json").read_text())
        assert res.run_dir.name.endswith(f"-{name}")
        assert run["usage"]["task"]["requests"] <= 60  # the budget split over two predictors
        assert run["results"]["best_test_score"] is not None  # scored on the valset
    # the student is left as it was
    assert [p.signature.instructions for _, p in student.named_predictors()] == [
        p.signature.instructions for _, p in TwoSteps().named_predictors()
    ]
    tag, answer = opt.results["tag"], opt.results["answer"]
    assert _good(tag.best_prompt) > 0 and tag.best_train_score > tag.initial_train_score
    # the second predictor was optimized with the first one's best instructions in place
    assert answer.initial_train_score == tag.best_train_score


def test_compile_again_resumes_without_running_the_program(tmp_path):
    CALLS.clear()
    a = optimizer(tmp_path).compile(TwoSteps(), trainset=data(0, 20), valset=data(20, 30))
    assert len(CALLS) > 40
    CALLS.clear()
    b = optimizer(tmp_path).compile(TwoSteps(), trainset=data(0, 20), valset=data(20, 30))
    assert CALLS == []  # every score came from the stores
    assert [p.signature.instructions for _, p in a.named_predictors()] == [
        p.signature.instructions for _, p in b.named_predictors()
    ]
    for i, name in enumerate(("tag", "answer")):
        with sqlite3.connect(tmp_path / "runs" / f"{i}-{name}" / "store.sqlite") as con:
            assert con.execute("select count(*) from runs").fetchone()[0] == 1  # resumed


def test_a_program_that_raises_scores_zero_and_the_run_finishes(tmp_path):
    opt = optimizer(tmp_path)
    opt.compile(TwoSteps(fail_on=3), trainset=data(0, 20))
    res = opt.results["tag"]
    with sqlite3.connect(res.run_dir / "store.sqlite") as con:
        sql = "select output from evaluations where example_id = 'train-00003'"
        outs = [r[0] for r in con.execute(sql)]
    assert outs and all("ValueError" in o for o in outs)


def test_a_metric_that_raises_names_the_example(tmp_path):
    def broken(example, prediction, trace=None):
        if example.number == "7":
            raise KeyError("parity")
        return True

    opt = LCP(broken, optimizer_lm=ScriptedBackend([]), run_dir=tmp_path / "r", budget=100)
    with pytest.raises(ProgramError, match=r"metric raised KeyError on example train-00007"):
        opt.compile(TwoSteps(), trainset=data(0, 20))


def test_float_metrics_and_feedback_objects_are_scores(tmp_path):
    def half(example, prediction, trace=None):
        return dspy.Prediction(score=0.5, feedback="half right")

    # 30 program calls a predictor: the initial prompt, one candidate and the contrast
    opt = optimizer(tmp_path, budget=60, threshold=0.5, settings={"candidates": 1})
    opt.metric = half
    opt.compile(TwoSteps(), trainset=data(0, 10))
    assert opt.results["tag"].initial_train_score == pytest.approx(0.5)


def test_bad_input_is_refused_before_any_call(tmp_path):
    with pytest.raises(UserError, match="budget"):
        optimizer(tmp_path, budget=30).compile(TwoSteps(), trainset=data(0, 20))
    with pytest.raises(UserError, match="training set is empty"):
        optimizer(tmp_path).compile(TwoSteps(), trainset=[])
    with pytest.raises(UserError, match="metric"):
        LCP("not callable")


class StandInLM:
    """Stands for an LM in `dspy.context`: the toy program reads its `bonus`."""

    def __init__(self, model: str, bonus: int) -> None:
        self.model, self.bonus = model, bonus


def test_adapt_runs_lcp_in_adaptation_mode_on_the_target_lm(tmp_path):
    opt = optimizer(tmp_path)
    tuned = opt.adapt(
        TwoSteps(),
        trainset=data(0, 20),
        source_lm=StandInLM("big", 10),
        target_lm=StandInLM("small", 0),
    )
    for name, pred in tuned.named_predictors():
        res = opt.results[name]
        run = json.loads((res.run_dir / "run.json").read_text())
        assert run["settings"]["method"] == "lcp-adapt"
        assert run["settings"]["model"] == "dspy:small"
        assert pred.signature.instructions == res.best_prompt
    assert opt.results["tag"].initial_train_score == 0.0  # the target LM without the bonus
    assert opt.results["tag"].best_train_score > 0.0
    assert opt.lm is None  # the target LM was used for the adaptation only


def test_meta_prompts_name_the_fields_each_predictor_writes(tmp_path):
    """The optimizer is told what the step it writes for produces: a typed label's values, a
    field's description; not the generic "a short text" of an untyped task."""

    class Typed(dspy.Signature):
        number: str = dspy.InputField()
        tag: str = dspy.InputField()
        parity: Literal["even", "odd", "unsure"] = dspy.OutputField(desc="the number's parity")

    class TypedSteps(TwoSteps):
        def __init__(self) -> None:
            super().__init__()
            self.answer = dspy.Predict(Typed)

    backend = ScriptedBackend([])
    opt = LCP(
        parity,
        optimizer_lm=backend,
        budget=120,
        iterations=1,
        settings={"candidates": 2, "top_k": 2},
        run_dir=tmp_path / "runs",
    )
    opt.compile(TypedSteps(), trainset=data(0, 20))
    texts = ["\n".join(m.content for m in r.messages) for _, r in backend.requests]
    assert texts and not any("a short text" in t for t in texts)
    assert any("`tag` (text)" in t for t in texts)
    assert any(
        "`parity` (exactly one of: even, odd, unsure; the number's parity)" in t for t in texts
    )
