"""Loaders, splits, templates and answer extraction on real files."""

from __future__ import annotations

import json

import pytest

from contrastprompt.data import Example, Task, load_jsonl, load_task, render
from contrastprompt.data.extract import extract_answer, infer_answer_type
from contrastprompt.data.loaders import bbh_tasks, load_csv, xcopa_languages
from contrastprompt.errors import UserError
from contrastprompt.metrics import exact_match, load_metric


def test_bbh_tasks_are_discovered_from_files(data_root):
    names = bbh_tasks(data_root)
    assert len(names) == len(list((data_root / "bbh" / "tasks").glob("*.json")))
    assert "navigate" in names


@pytest.mark.parametrize(
    "name,kind",
    [
        ("navigate", "yes/no"),
        ("date_understanding", "choice"),
        ("boolean_expressions", "true/false"),
        ("formal_fallacies", "valid/invalid"),
        ("multistep_arithmetic_two", "integer"),
        ("word_sorting", "text"),
        ("movie_recommendation", "choice"),
        ("ruin_names", "choice"),
        ("sports_understanding", "yes/no"),
    ],
)
def test_answer_type_inferred_from_targets(data_root, name, kind):
    assert load_task(f"bbh:{name}", data_root=data_root).answer_type == kind


def test_split_is_seeded_disjoint_and_default_sized(data_root):
    task = load_task("bbh:navigate", data_root=data_root)
    train, test = task.split(seed=3)
    assert len(train) == 50 and len(test) == len(task.examples) - 50
    assert not {e.id for e in train} & {e.id for e in test}
    assert [e.id for e in task.split(seed=3)[0]] == [e.id for e in train]
    assert [e.id for e in task.split(seed=4)[0]] != [e.id for e in train]
    small = Task("s", [Example(str(i), "Yes") for i in range(30)])
    tr, te = small.split()
    assert len(tr) == 15 and len(te) == 15


def test_empty_split_is_a_clear_error():
    t = Task("tiny", [Example("a", "Yes")])
    with pytest.raises(UserError, match="training split"):
        t.split()
    with pytest.raises(UserError, match="test split"):
        Task("two", [Example("a", "Yes"), Example("b", "No")]).split(n_train=2)


def test_xcopa_fixed_split_and_question_from_consensus(data_root):
    assert set(xcopa_languages(data_root)) >= {"et", "sw", "zh"}
    task = load_task("xcopa:tr", data_root=data_root)
    train, test = task.split(seed=0)
    assert len(train) == 50 and len(test) == 500
    assert all(e.id.startswith("val-") for e in train) and all(
        e.id.startswith("test-") for e in test
    )
    et = {
        json.loads(line)["idx"]: json.loads(line)["question"]
        for line in (data_root / "xcopa/et/test.jsonl").read_text().splitlines()
        if line.strip()
    }
    assert all(e.input["question"] == et[e.metadata["idx"]] for e in test)
    assert test[0].target in ("(A)", "(B)")
    assert "Premise:" in task.render(test[0]) and "(B)" in task.render(test[0])
    tt = load_task("xcopa:sw:translate-test", data_root=data_root)
    assert tt.name == "xcopa:sw:translate-test"


def test_render_leaves_foreign_braces_alone():
    assert (
        render("Q: {q} {not_a_field} {{x}} {0}", {"q": "a {b} c"})
        == "Q: a {b} c {not_a_field} {{x}} {0}"
    )


def test_jsonl_errors_name_file_line_field(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_text('{"input": "a", "target": "b"}\n{"input": "c"\n', encoding="utf-8")
    with pytest.raises(UserError) as e:
        load_jsonl(p)
    assert e.value.source == str(p) and e.value.line == 2 and "JSON" in str(e.value)
    p.write_text('{"input": "a", "target": "b"}\n\n{"question": "c", "target": "d"}\n')
    with pytest.raises(UserError) as e:
        load_jsonl(p)
    assert e.value.line == 3 and e.value.field == "input"
    p.write_bytes(b'{"input": "a", "target": "b"}\n{"input": "\xff\xfe", "target": "x"}\n')
    with pytest.raises(UserError) as e:
        load_jsonl(p)
    assert e.value.line == 2 and "UTF-8" in str(e.value)
    p.write_text("\n\n")
    with pytest.raises(UserError, match="empty"):
        load_jsonl(p)


def test_csv_with_named_fields_and_template(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("q,ctx,label\nWhat?,some {ctx},Yes\nWhy?,other,No\n", encoding="utf-8")
    exs = load_csv(p, input_field="q", target_field="label")
    assert [e.input for e in exs] == ["What?", "Why?"] and exs[1].target == "No"
    task = load_task(str(p), target_field="label", template="Context: {ctx}\nQ: {q}")
    assert task.render(task.examples[0]) == "Context: some {ctx}\nQ: What?"
    p.write_text("q,label\nWhat?,Yes\nWhy?,\n")
    with pytest.raises(UserError) as e:
        load_csv(p, input_field="q", target_field="label")
    assert e.value.line == 3 and e.value.field == "label"


@pytest.mark.parametrize(
    "text,kind,expected",
    [
        ("The answer is (B).", "choice", "(B)"),
        ("**C**", "choice", "(C)"),
        ("I think A) is wrong. Answer: (D) because", "choice", "(D)"),
        ("Answer: E", "choice", "(E)"),
        ("Options (A) and (B) look similar; the correct option is (B)", "choice", "(B)"),
        ("Yes.", "yes/no", "yes"),
        ("Let me think. No, we do not return. Answer: No", "yes/no", "no"),
        ("The statement is not true, so: False", "true/false", "false"),
        ("The argument is invalid.", "valid/invalid", "invalid"),
        ("First 3*4=12, then 12-50=-38. Answer: -38", "integer", "-38"),
        ("The result is 1,204.", "integer", "1204"),
        ("Answer: apple banana cherry\nbecause sorted", "text", "apple banana cherry"),
        ("nothing useful here", "choice", None),
    ],
)
def test_extraction_handles_small_model_chatter(text, kind, expected):
    assert extract_answer(text, kind) == expected


def test_choice_extraction_maps_option_text():
    inp = "Which?\nOptions:\n(A) 12/11/1937\n(B) 01/02/2001"
    assert extract_answer("It must be 01/02/2001.", "choice", inp) == "(B)"


def test_answer_type_ignores_a_few_irregular_targets():
    assert infer_answer_type(["(A)"] * 99 + ["Monsters, Inc"]) == "choice"
    assert infer_answer_type(["] )", ") >"]) == "text"


def test_exact_match_normalises():
    ex = Example("q", "(B)")
    assert exact_match("(b)", ex) == 1.0 and exact_match("(C)", ex) == 0.0
    assert exact_match(None, ex) == 0.0
    assert exact_match("yes", Example("q", "Yes")) == 1.0


def test_user_metric_from_file(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("def score(pred, ex):\n    return 0.5 if pred else 0.0\n")
    fn = load_metric(f"{f}:score")
    assert fn("x", Example("q", "y")) == 0.5
    with pytest.raises(UserError, match="not a function"):
        load_metric(f"{f}:nope")


def test_example_task_ships_with_repo():
    from pathlib import Path

    p = Path(__file__).resolve().parents[1] / "examples" / "reviews.jsonl"
    task = load_task(str(p))
    assert len(task.examples) >= 80 and task.answer_type == "yes/no"


def test_every_answer_type_has_limits_and_stops(data_root):
    for name in ("navigate", "date_understanding", "multistep_arithmetic_two", "word_sorting"):
        max_tokens, stop = load_task(f"bbh:{name}", data_root=data_root).limits()
        assert 0 < max_tokens <= 256 and "\nQuestion:" in stop


def test_duplicate_ids_are_refused_with_file_line_field(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_text(
        '{"id": "a", "input": "x", "target": "Yes"}\n'
        '{"id": "b", "input": "y", "target": "No"}\n'
        '{"id": "a", "input": "z", "target": "No"}\n'
    )
    with pytest.raises(
        UserError, match=r"d\.jsonl:3, field 'id': duplicate id 'a' \(first on line 1\)"
    ):
        load_jsonl(p)
    c = tmp_path / "d.csv"
    c.write_text("id,input,target\n1,x,Yes\n1,y,No\n")
    with pytest.raises(UserError, match=r"d\.csv:3, field 'id': duplicate id '1'"):
        load_csv(c)
    with pytest.raises(UserError, match="duplicate example id 'q'"):
        Task("mem", [Example("a", "Yes", id="q"), Example("b", "No", id="q")])
