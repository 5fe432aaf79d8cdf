"""The benchmark data ships inside the package, and other data roots may use upstream layouts."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from contrastprompt.data import load_task
from contrastprompt.data.extract import extract_answer, infer_answer_type
from contrastprompt.data.loaders import PACKAGED, bbh_tasks, xcopa_languages

REPO = Path(__file__).resolve().parents[1]


def test_packaged_data_has_every_task_language_and_licence():
    assert len(bbh_tasks(PACKAGED)) == 22
    assert xcopa_languages(PACKAGED) == ["et", "id", "it", "sw", "th", "tr", "vi", "zh"]
    for f in (
        "README.md",
        "bbh/LICENSE",
        "xcopa/LICENSE.md",
        "cls/LICENSE-EvoPrompt.txt",
        "sib200/LICENSE",
    ):
        assert (PACKAGED / f).is_file(), f


def test_benchmark_tasks_load_from_any_directory_without_a_data_root(tmp_path):
    """What a user gets after pip install: run from an unrelated folder, no env, no ../shared."""
    env = {k: v for k, v in os.environ.items() if k != "CONTRASTPROMPT_DATA"}
    code = (
        "from contrastprompt.data import load_task\n"
        "t = load_task('bbh:navigate'); x = load_task('xcopa:sw')\n"
        "c = load_task('cls:trec'); s = load_task('sib:swh_Latn')\n"
        "print(len(t.examples), len(x.fixed_split[0]), len(x.fixed_split[1]), len(c.examples),"
        " len(s.fixed_split[0]), len(s.fixed_split[1]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["250", "100", "500", "500", "800", "204"]


def test_upstream_bbh_layout(tmp_path):
    """BIG-Bench-Hard's own checkout: bbh/<task>.json."""
    (tmp_path / "bbh").mkdir()
    shutil.copy(PACKAGED / "bbh" / "tasks" / "navigate.json", tmp_path / "bbh" / "navigate.json")
    assert bbh_tasks(tmp_path) == ["navigate"]
    t = load_task("bbh:navigate", data_root=tmp_path)
    assert len(t.examples) == 250 and t.answer_type == "yes/no"


def test_upstream_xcopa_layout(tmp_path):
    """XCOPA's own checkout: data/<lang>/{val,test}.<lang>.jsonl and data-gmt/<lang>/…"""
    for lang in ("et", "tr"):
        for split in ("val", "test"):
            for ours, theirs in (("", "data"), ("translate-test/", "data-gmt")):
                src = PACKAGED / "xcopa" / f"{ours}{lang}" / f"{split}.jsonl"
                dst = tmp_path / theirs / lang / f"{split}.{lang}.jsonl"
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(src, dst)
    assert xcopa_languages(tmp_path) == ["et", "tr"]
    ours = load_task("xcopa:tr")
    theirs = load_task("xcopa:tr", data_root=tmp_path)
    assert [e.input for e in theirs.fixed_split[1]] == [e.input for e in ours.fixed_split[1]]
    # the question comes from the et file in that layout too (tr mislabels some upstream)
    raw_tr = [json.loads(x) for x in (tmp_path / "data/tr/test.tr.jsonl").read_text().splitlines()]
    differs = [
        i for i, r in enumerate(raw_tr) if r["question"] != ours.fixed_split[1][i].input["question"]
    ]
    assert differs, "expected tr to disagree with the et consensus on some items"
    tt = load_task("xcopa:tr:translate-test", data_root=tmp_path)
    assert tt.fixed_split[1][0].input["premise"] != theirs.fixed_split[1][0].input["premise"]


def test_env_data_root_overrides_the_packaged_copy(tmp_path):
    (tmp_path / "bbh").mkdir()
    shutil.copy(PACKAGED / "bbh" / "tasks" / "snarks.json", tmp_path / "bbh" / "snarks.json")
    env = dict(os.environ, CONTRASTPROMPT_DATA=str(tmp_path))
    code = "from contrastprompt.data.loaders import bbh_tasks; print(bbh_tasks())"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "['snarks']"


def test_example_tickets_task_is_a_closed_label_task():
    t = load_task(str(REPO / "examples" / "tickets.jsonl"))
    assert t.answer_type == "label"
    assert t.labels == ("billing", "delivery", "technical")
    assert "billing, delivery, technical" in t.answer_format()


@pytest.mark.parametrize(
    "text,expected",
    [
        ("Billing", "billing"),
        ("This one is for the delivery team.", "delivery"),
        ("Answer: technical", "technical"),
        ("The customer talks about billing, but the answer is: delivery.", "delivery"),
        ("I cannot tell.", None),
    ],
)
def test_label_extraction(text, expected):
    assert extract_answer(text, "label", "", ("billing", "delivery", "technical")) == expected


def test_label_type_needs_a_small_repeated_set():
    assert infer_answer_type(["red", "blue", "green"] * 5) == "label"
    assert infer_answer_type(["red", "blue", "green"]) == "text"  # too few to call it a set
    assert infer_answer_type([f"word{i}" for i in range(40)]) == "text"
    assert infer_answer_type(["a long answer that is a sentence"] * 3 + ["x"] * 3) == "text"
