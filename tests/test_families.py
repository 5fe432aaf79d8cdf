"""Task families on the packaged data and on a data root of the same layout."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from contrastprompt.bench import expand_tasks
from contrastprompt.data import load_task
from contrastprompt.data.families import FAMILIES
from contrastprompt.data.task import take
from contrastprompt.errors import UserError

from .test_cli_errors import assert_one_line_error, run_cli


def test_every_family_lists_names_found_in_the_data(data_root):
    assert FAMILIES["cls"].names(data_root) == ["agnews", "sst2", "sst5", "subj", "trec"]
    langs = FAMILIES["sib"].names(data_root)
    assert "eng_Latn" in langs and "swh_Latn" in langs and len(langs) == 10
    assert FAMILIES["sib"].parallel and FAMILIES["xcopa"].parallel
    assert not FAMILIES["cls"].parallel
    assert expand_tasks(["cls:all"], data_root) == [
        f"cls:{n}" for n in FAMILIES["cls"].names(data_root)
    ]
    assert len(expand_tasks(["sib:all", "bbh:navigate"], data_root)) == 11


def test_cls_task_has_its_label_set_and_both_files(data_root):
    t = load_task("cls:agnews", data_root=data_root)
    assert t.answer_type == "label" and set(t.labels) == {"world", "sports", "business", "tech"}
    assert len(t.examples) == 1000  # dev and test, disjoint ids
    trec = load_task("cls:trec", data_root=data_root)
    assert Counter(e.target for e in trec.examples)["Description"] == 138


def test_sib_languages_are_parallel_by_id(data_root):
    en, sw = (
        load_task("sib:eng_Latn", data_root=data_root),
        load_task("sib:swh_Latn", data_root=data_root),
    )
    (en_train, en_test), (sw_train, sw_test) = en.split(0, 60), sw.split(0, 60)
    assert len(en_test) == 204 and len(en_train) == 60
    assert [e.id for e in en_test] == [e.id for e in sw_test]
    assert [e.id for e in en_train] == [e.id for e in sw_train]
    assert [e.target for e in en_test] == [e.target for e in sw_test]
    assert en_test[0].input != sw_test[0].input
    assert (en.language, sw.language) == ("eng_Latn", "swh_Latn")  # what adapt writes in


def test_a_limit_is_a_seeded_sample_not_the_first_items(data_root):
    trec = load_task("cls:trec", data_root=data_root)
    first = trec.examples[:60]
    assert {e.target for e in first} == {"Description"}  # the file is sorted by label
    picked = take(trec.examples, 60, seed=0)
    assert len(picked) == 60 and len({e.target for e in picked}) >= 4
    assert [e.id for e in take(trec.examples, 60, seed=0)] == [e.id for e in picked]
    assert [e.id for e in take(trec.examples, 60, seed=1)] != [e.id for e in picked]


def test_a_data_root_with_the_same_layout_serves_other_tasks(tmp_path):
    (tmp_path / "cls").mkdir()
    rows = [
        {"id": f"r{i}", "text": f"text {i}", "label": "spam" if i % 2 else "ham"} for i in range(12)
    ]
    (tmp_path / "cls" / "mail.dev.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    t = load_task("cls:mail", data_root=tmp_path)
    assert set(t.labels) == {"spam", "ham"} and len(t.examples) == 12


@pytest.mark.parametrize(
    "spec,needle",
    [("cls:foo", "known: agnews, sst2"), ("sib:xx_Latn", "eng_Latn")],
)
def test_unknown_names_list_what_exists(data_root, spec, needle):
    with pytest.raises(UserError) as e:
        load_task(spec, data_root=data_root)
    assert needle in str(e.value.hint)


def _sib_root(tmp_path, label: str = "health", splits=("train", "dev", "test")):
    d = tmp_path / "sib200" / "xyz_Latn"
    d.mkdir(parents=True)
    for s in splits:
        (d / f"{s}.tsv").write_text(
            f"index_id\tcategory\ttext\n1\tsports\tA match.\n2\t{label}\tA clinic.\n"
        )
    return tmp_path


def test_a_sib_language_missing_a_split_is_one_line_exit_2(tmp_path):
    root = _sib_root(tmp_path, splits=("train", "test"))
    assert_one_line_error(
        run_cli("evaluate", "--task", "sib:xyz_Latn", "--prompt", "x", "--data-root", str(root)),
        "no dev split",
    )


def test_a_label_outside_the_family_set_names_file_line_and_field(tmp_path):
    root = _sib_root(tmp_path, label="cooking")
    line = assert_one_line_error(
        run_cli("evaluate", "--task", "sib:xyz_Latn", "--prompt", "x", "--data-root", str(root)),
        "cooking",
        "field 'category'",
    )
    assert "train.tsv:3" in line


def test_an_unknown_cls_task_through_the_cli_lists_the_tasks(data_root):
    assert_one_line_error(
        run_cli("evaluate", "--task", "cls:foo", "--prompt", "x", "--data-root", str(data_root)),
        "unknown classification task 'foo'",
        "trec",
    )


@pytest.mark.parametrize(
    "line,needles",
    [
        ('["a list", "not an object"]', ("mail.dev.jsonl:2", "JSON object")),
        ('{"id": "r1", "text": "no label here"}', ("mail.dev.jsonl:2", "field 'label'")),
        ('{"id": "r1", "text": "cut', ("mail.dev.jsonl:2", "not valid JSON")),
    ],
)
def test_a_bad_cls_line_is_one_line_with_file_line_and_field(tmp_path, line, needles):
    (tmp_path / "cls").mkdir()
    good = json.dumps({"id": "r0", "text": "fine", "label": "ham"})
    (tmp_path / "cls" / "mail.dev.jsonl").write_text(f"{good}\n{line}\n")
    cmd = ("evaluate", "--task", "cls:mail", "--prompt", "x", "--data-root", str(tmp_path))
    assert_one_line_error(run_cli(*cmd), *needles)


def _xcopa_root(tmp_path, data_root, edit):
    """A data root holding the first 3 items of XCOPA et and sw, with `edit(lang, split, lines)`
    applied."""
    for lang in ("et", "sw"):
        d = tmp_path / "xcopa" / lang
        d.mkdir(parents=True)
        for split in ("val", "test"):
            src = data_root / "xcopa" / lang / f"{split}.jsonl"
            lines = src.read_text().splitlines()[:3]
            edit(lang, split, lines)
            (d / f"{split}.jsonl").write_text("\n".join(lines) + "\n")
    return tmp_path


def _drop(field):
    def edit(lang, split, lines):
        if (lang, split) == ("sw", "test"):
            rec = json.loads(lines[1])
            del rec[field]
            lines[1] = json.dumps(rec)

    return edit


def _not_object(lang, split, lines):
    if (lang, split) == ("et", "val"):  # the file the question consensus is read from
        lines[1] = json.dumps([1, 2])


def _bad_label(lang, split, lines):
    if (lang, split) == ("sw", "val"):
        lines[1] = json.dumps({**json.loads(lines[1]), "label": 2})


@pytest.mark.parametrize(
    "edit,file,field",
    [
        (_drop("choice2"), "sw/test.jsonl", "choice2"),
        (_not_object, "et/val.jsonl", None),
        (_bad_label, "sw/val.jsonl", "label"),
    ],
)
def test_a_bad_xcopa_line_names_file_line_and_field(tmp_path, data_root, edit, file, field):
    root = _xcopa_root(tmp_path, data_root, edit)
    with pytest.raises(UserError) as e:
        load_task("xcopa:sw", data_root=root)
    assert e.value.line == 2 and e.value.field == field and file in str(e.value)
