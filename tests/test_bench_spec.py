"""A bench as one spec file: the committed specs load, a bad one is one line naming the file and
the key (exit 2) before any model starts, --dry-run lists the cells, and a results folder that
holds cells of another spec or code version is refused unless --allow-mixed. Every command
runs the real CLI in a subprocess; none starts a model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from contrastprompt.bench import (
    CELL_FILE,
    cell_spec,
    current_code_version,
    loop_limits,
    mixed_cells,
    provenance_note,
)
from contrastprompt.bench_spec import load_spec

REPO = Path(__file__).resolve().parents[1]
SPECS = REPO / "bench" / "specs"

SMALL = """
name = "small"
out = "results"
tasks = ["cls:trec"]
seeds = [0, 1]
reference = "opro"

[profile]
n_train = 20
n_val = 20
test_limit = 40
budget = 60
max_optimizer_calls = 4

[models]
task = "local:qwen2.5-coder-1.5b"
optimizer = "local:qwen2.5-coder-1.5b"

[prompt]
default = "Classify the input."

[methods]
opro = {}
opro-few = { method = "opro", candidates = 2 }
initial = {}
"""


def cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    return subprocess.run(
        [sys.executable, "-m", "contrastprompt", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
    )


def error_line(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def write_spec(tmp_path: Path, text: str = SMALL) -> Path:
    path = tmp_path / "small.toml"
    path.write_text(text)
    return path


def test_the_public_spec_is_the_protocol_and_its_profile():
    spec = load_spec(SPECS / "public.toml")
    assert spec.tasks == ["cls:trec", "sib:eng_Latn", "cls:agnews"]
    assert spec.seeds == list(range(10))
    assert spec.split_seed is None  # each seed its own split
    p = spec.profile
    assert (p.n_train, p.n_val, p.test_limit, p.budget, p.max_optimizer_calls) == (
        50,
        50,
        200,
        300,
        20,
    )
    for m in ("lcp", "apo", "opro", "ape", "gepa", "autohint", "initial"):
        assert spec.variants[m][0] == m
    assert spec.variants["lcp-paper"] == ("lcp", {"profile": "paper"})
    assert spec.prompt == "Classify the input." and spec.out == REPO / "bench/results/public_seeds"
    large = load_spec(SPECS / "public-large.toml")
    assert (large.profile.budget, large.profile.max_optimizer_calls) == (4 * p.budget, 60)
    assert (large.tasks, large.seeds, large.methods) == (spec.tasks, spec.seeds, spec.methods)
    labelled = load_spec(SPECS / "public-labelled.toml")
    for task in spec.tasks:  # a practitioner's start prompt lists every label of its task
        assert all(label in labelled.prompts[task] for label in spec.loaded[task].labels)


@pytest.mark.parametrize(
    "old,new,key",
    [
        ('tasks = ["cls:trec"]', 'tasks = ["cls:nosuch"]', "tasks[0]"),
        ("opro = {}", "oprah = {}", "methods.oprah"),
        ('method = "opro"', 'method = "oprah"', "methods.opro-few.method"),
        ("candidates = 2", "candidate = 2", "methods.opro-few.candidate"),
        ("candidates = 2", 'candidates = "two"', "methods.opro-few.candidates"),
        ('task = "local:qwen2.5-coder-1.5b"', 'task = "local:nosuch"', "models.task"),
        ('optimizer = "local:', 'optimizer = "nosuch:', "models.optimizer"),
        ("budget = 60", "budgets = 60", "profile.budgets"),
        ('reference = "opro"', 'reference = "apo"', "reference"),
        ('default = "Classify', '"cls:agnews" = "x"\ndefault = "Classify', "prompt.cls:agnews"),
        ("n_val = 20", "n_val = 480", "profile.n_val"),
        ("seeds = [0, 1]", "seeds = [0, 1]\nseed = 3", "seed"),
    ],
)
def test_a_bad_spec_is_one_line_naming_the_file_and_the_key(tmp_path, old, new, key):
    assert old in SMALL
    path = write_spec(tmp_path, SMALL.replace(old, new, 1))
    line = error_line(cli("bench", "--spec", str(path), "--dry-run"))
    assert str(path) in line and f"field '{key}'" in line, line


def test_a_toml_syntax_error_names_the_line(tmp_path):
    path = write_spec(tmp_path, SMALL.replace("n_train = 20", "n_train = = 20"))
    line = error_line(cli("bench", "--spec", str(path), "--dry-run"))
    assert f"{path}:9" in line and "TOML" in line, line


def test_options_the_spec_gives_are_refused_beside_it_and_a_slice_must_be_in_it(tmp_path):
    path = write_spec(tmp_path)
    assert "--budget" in error_line(cli("bench", "--spec", str(path), "--budget", "9"))
    line = error_line(cli("bench", "--spec", str(path), "--methods", "apo", "--dry-run"))
    assert "field '--methods'" in line and "'apo' is not in the spec" in line


def test_the_dry_run_lists_each_cell_with_its_requests_and_hours(tmp_path):
    path = write_spec(tmp_path)
    proc = cli("bench", "--spec", str(path), "--dry-run")
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout + proc.stderr
    # each seed its own split: the fixed prompt runs on both seeds too
    for cell in ("opro s0", "opro-few s0", "initial s0", "opro s1", "opro-few s1", "initial s1"):
        assert f"cls:trec {cell}: " in text, text
    assert "each seed on its own split" in text and "6 runs left" in text
    assert "40 test req" in text  # a fixed prompt: its one prompt on the 40 test items
    sliced = cli("bench", "--spec", str(path), "--dry-run", "--seeds", "1", "--methods", "opro")
    assert "2 runs left" not in sliced.stderr and "1 runs left" in sliced.stdout + sliced.stderr
    assert not (tmp_path / "results").exists() or not any((tmp_path / "results").rglob("run.json"))


def _finished(cfg, cell, version: str | None, **settings) -> None:
    """A finished cell's run.json as this bench would write it, with a given code version (and
    settings changed by `settings`), plus its cell.json."""
    task = load_spec_task(cfg, cell)
    spec = cell_spec(cfg, cell, task)
    t = spec.optimizer.adapt_task(task)
    train, test, content = spec.split.apply(t, spec.seed)
    run = {
        "settings": spec.settings(t, train, content) | settings,
        "limits": loop_limits(spec) | {"test_size": len(test)},
        "environment": {"code_version": version} if version else {},
        "results": {},
    }
    d = cell.run_dir(cfg.root)
    d.mkdir(parents=True)
    (d / "run.json").write_text(json.dumps(run))
    (d / CELL_FILE).write_text(json.dumps({"wall_s": 1.0}))


def load_spec_task(cfg, cell):
    from contrastprompt.inputs import resolve_task

    return resolve_task(cell.task)


def test_cells_of_another_code_version_or_spec_are_refused_unless_allowed(tmp_path):
    path = write_spec(tmp_path)
    spec = load_spec(path)
    cfg = spec.config()
    same = current_code_version()
    a, b, c, d = cfg.cells()[:4]
    _finished(cfg, a, same)
    _finished(cfg, b, same)
    _finished(cfg, c, "other-version")
    _finished(cfg, d, same, initial_prompt="Another start.")
    lines = mixed_cells(cfg, spec.loaded)
    assert any(f"{c.method} s{c.seed}: code version other-version" in ln for ln in lines)
    assert any(f"{d.method} s{d.seed}: another spec (initial_prompt)" in ln for ln in lines)
    assert len(lines) == 2, lines
    proc = cli("bench", "--spec", str(path), "--dry-run")
    line = error_line(proc)
    assert "2 finished cells" in line and "--allow-mixed" in line
    assert f"cls:trec {c.method} s{c.seed}: code version other-version" in proc.stderr
    allowed = cli("bench", "--spec", str(path), "--dry-run", "--allow-mixed")
    assert allowed.returncode == 0, allowed.stderr
    assert "pooled anyway" in allowed.stderr


def test_a_table_that_pools_code_versions_says_so():
    rows = [{"code_version": "a"}, {"code_version": "a"}, {"code_version": None}]
    note = provenance_note(rows)
    assert (
        "MIXED CODE VERSIONS" in note and "a (2 cells)" in note and "unrecorded (1 cells)" in note
    )
    assert provenance_note(rows[:2]) == ""
