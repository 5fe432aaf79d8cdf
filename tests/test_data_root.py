"""A user's data root adds to the packaged data: names from both resolve, the root wins a clash
(with one notice), and a root that is missing or holds nothing is one line, exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from contrastprompt.bench import expand_tasks
from contrastprompt.data import load_task
from contrastprompt.data.families import FAMILIES, names_in, roots_of
from contrastprompt.data.loaders import PACKAGED
from contrastprompt.errors import UserError

from .test_cli_errors import assert_one_line_error, run_cli

SPLITS = {"train": 8, "dev": 4, "test": 6}


def _sib_language(root: Path, lang: str, text: str) -> Path:
    """`sib200/<lang>/{train,dev,test}.tsv` in the packaged format: the first items of the
    packaged English files (same index_id and category, so parallel to every packaged
    language), each with `text` and its id as the sentence."""
    d = root / "sib200" / lang
    d.mkdir(parents=True)
    for split, n in SPLITS.items():
        lines = (PACKAGED / "sib200" / "eng_Latn" / f"{split}.tsv").read_text("utf-8").splitlines()
        rows = [line.split("\t") for line in lines[1 : n + 1]]
        body = [f"{index_id}\t{category}\t{text} {index_id}." for index_id, category, _ in rows]
        (d / f"{split}.tsv").write_text("\n".join([lines[0], *body]) + "\n", encoding="utf-8")
    return root


def _hausa_root(tmp_path: Path) -> Path:
    return _sib_language(tmp_path / "mine", "hau_Latn", "Jumla ta Hausa")


def test_a_one_language_root_adds_to_the_packaged_languages(tmp_path):
    root = _hausa_root(tmp_path)
    hau = load_task("sib:hau_Latn", data_root=root)
    eng = load_task("sib:eng_Latn", data_root=root)
    assert Path(hau.source) == root / "sib200" / "hau_Latn"
    assert Path(eng.source) == PACKAGED / "sib200" / "eng_Latn"
    assert len(hau.fixed_split[1]) == SPLITS["test"] and len(eng.fixed_split[1]) == 204
    assert hau.fixed_split[1][0].input.startswith("Jumla ta Hausa")
    langs = names_in("sib", roots_of(root))
    assert "hau_Latn" in langs and "eng_Latn" in langs and len(langs) == 11
    expanded = expand_tasks(["sib:all"], root)
    assert "sib:hau_Latn" in expanded and "sib:eng_Latn" in expanded and len(expanded) == 11
    # the other families stay the packaged ones
    assert expand_tasks(["cls:all"], root) == [f"cls:{n}" for n in FAMILIES["cls"].names(PACKAGED)]
    assert len(load_task("bbh:navigate", data_root=root).examples) == 250


def test_an_unknown_name_lists_the_names_of_both_places(tmp_path):
    root = _hausa_root(tmp_path)
    with pytest.raises(UserError) as e:
        load_task("sib:xyz_Latn", data_root=root)
    assert "unknown SIB-200 language 'xyz_Latn'" in str(e.value)
    assert "hau_Latn" in str(e.value.hint) and "eng_Latn" in str(e.value.hint)
    assert str(root) in str(e.value)  # where a new language would go


def test_on_a_clash_the_root_wins_with_one_notice(tmp_path):
    root = _sib_language(tmp_path / "mine", "eng_Latn", "A sentence of the data root")
    code = (
        "from contrastprompt.data import load_task\n"
        "for _ in range(3):\n"
        f"    t = load_task('sib:eng_Latn', data_root={str(root)!r})\n"
        "print(t.source)\n"
        "print(t.fixed_split[1][0].input)\n"
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    source, first = p.stdout.splitlines()
    assert Path(source) == root / "sib200" / "eng_Latn"
    assert first.startswith("A sentence of the data root")
    notices = [ln for ln in p.stderr.splitlines() if "sib:eng_Latn" in ln]
    assert len(notices) == 1, p.stderr
    assert str(root) in notices[0] and "packaged" in notices[0]


@pytest.mark.parametrize("how", ["option", "environment"])
def test_adapt_takes_the_source_from_the_package_and_the_target_from_the_root(tmp_path, how):
    root = _hausa_root(tmp_path)
    args = ["adapt", "--task", "sib:hau_Latn", "--source-task", "sib:eng_Latn"]
    args += ["--prompt", "Name the topic of the sentence.", "--dry-run"]
    if how == "option":
        p = run_cli(*args, "--data-root", str(root))
    else:
        p = run_cli(*args, env={"CONTRASTPROMPT_DATA": str(root)})
    assert p.returncode == 0, p.stderr
    assert "Traceback" not in p.stderr
    # every training item of the 12 Hausa ones found its English counterpart
    assert "source: 12 task requests" in p.stderr, p.stderr
    assert "nothing was run" in p.stderr


def _missing(tmp_path: Path) -> tuple[Path, str]:
    return tmp_path / "no-such-dir", "does not exist"


def _empty(tmp_path: Path) -> tuple[Path, str]:
    (tmp_path / "empty" / "sib200" / "hau_Latn").mkdir(parents=True)  # no split files
    (tmp_path / "empty" / "notes.txt").write_text("nothing for any family\n")
    return tmp_path / "empty", "holds no data of any family"


@pytest.mark.parametrize("bad", [_missing, _empty])
@pytest.mark.parametrize(
    "command",
    [
        ("adapt", "--task", "sib:hau_Latn", "--source-task", "sib:eng_Latn", "-p", "x"),
        ("evaluate", "--task", "FILE", "--prompt", "x"),
    ],
)
def test_a_bad_data_root_is_one_line_naming_it(tmp_path, bad, command):
    root, needle = bad(tmp_path)
    task_file = tmp_path / "items.jsonl"
    task_file.write_text('{"input": "a", "target": "Yes"}\n')
    args = [str(task_file) if a == "FILE" else a for a in command]
    line = assert_one_line_error(run_cli(*args, "--data-root", str(root)), str(root), needle)
    assert "--data-root" in line


def test_a_bad_environment_data_root_names_the_variable(tmp_path):
    root, needle = _missing(tmp_path)
    p = run_cli(
        "evaluate", "--task", "sib:eng_Latn", "-p", "x", env={"CONTRASTPROMPT_DATA": str(root)}
    )
    assert "CONTRASTPROMPT_DATA" in assert_one_line_error(p, str(root), needle)


def test_the_data_root_option_says_it_adds_to_the_packaged_data():
    p = run_cli("adapt", "--help")
    assert p.returncode == 0
    assert "adds to the data in the package" in " ".join(p.stdout.split())
