"""What a run leaves in its run dir: a local server's log only when it holds something, files
whose paths are relative to their own folder (so a results folder reads the same wherever it is
moved or committed), and the version of the code that made them.

The runs here use the scripted model of tests/scripted.py for the bookkeeping; the store, the
files and, for the logs, the server processes are real."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from contrastprompt import Task, adapt, optimize
from contrastprompt.errors import UserError

from .scripted import ScriptedBackend, yes_no_examples
from .test_adapt import SourceBackend


def _server_logs(folder: Path) -> list[Path]:
    return sorted(folder.glob("contrastprompt-llama-*.log"))


def test_a_server_log_is_kept_only_when_it_holds_something(tmp_path):
    from contrastprompt.llm.local import settle_log

    live, kept = tmp_path / "live.log", tmp_path / "run" / "server.log"
    live.write_bytes(b"")
    assert settle_log(live, kept) is None
    assert not live.exists() and not kept.exists()
    live.write_text("decode failed\n")
    assert settle_log(live, kept) == kept
    assert kept.read_text() == "decode failed\n" and not live.exists()
    live.write_text("decode failed again\n")  # a second server of the same model, same process
    settle_log(live, kept)
    assert kept.read_text() == "decode failed\ndecode failed again\n"
    # a server that died: the error names its log, so the log is there even with nothing in it
    died = tmp_path / "run" / "died.log"
    live.write_bytes(b"")
    assert settle_log(live, died, keep=True) == died and died.is_file()
    # a log already in its place (no run dir: the temp dir) is deleted when empty
    in_place = tmp_path / "in_place.log"
    in_place.write_bytes(b"")
    assert settle_log(in_place, in_place) is None and not in_place.exists()


def test_a_server_that_fails_to_start_names_a_log_that_is_there(tmp_path):
    """A real server process on a file that is no model: it exits, and the error's log is in the
    run dir, with what the server said, and nothing is left in the temp dir."""
    pytest.importorskip("llama_cpp.server")
    from contrastprompt.llm.local import LocalServer

    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"not a model")
    run = tmp_path / "run"
    run.mkdir()
    server = LocalServer(junk, log_dir=run, startup_timeout=120)
    with pytest.raises(UserError) as err:
        server.start()
    assert f"see {server.log_path}" in str(err.value)
    assert server.log_path.parent == run and server.log_path.stat().st_size > 0
    assert not list(Path(tempfile.gettempdir()).glob(f"{server.log_path.stem}-*.log"))


@pytest.mark.model
def test_a_server_that_stops_cleanly_leaves_no_empty_log(tmp_path):
    from contrastprompt.llm.catalogue import gguf_path, lookup
    from contrastprompt.llm.local import LocalServer

    run = tmp_path / "run"
    run.mkdir()
    server = LocalServer(gguf_path(lookup("smollm2-135m")), log_dir=run)
    server.start()
    try:
        assert not _server_logs(run)  # while it runs, the server writes its log elsewhere
    finally:
        server.stop()
    assert all(p.stat().st_size > 0 for p in _server_logs(run)), _server_logs(run)
    assert not list(Path(tempfile.gettempdir()).glob(f"{server.log_path.stem}-*.log"))


def _strings(value: object) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


def test_run_json_holds_no_absolute_path_and_says_which_code_wrote_it(tmp_path):
    from contrastprompt.run.outputs import code_version

    exs = yes_no_examples(40)
    run_dir = (tmp_path / "run").resolve()
    optimize(
        Task("scripted", exs),
        "Answer the question.",
        model=ScriptedBackend(exs),
        iterations=1,
        candidates=2,
        n_train=10,
        run_dir=run_dir,
    )
    data = json.loads((run_dir / "run.json").read_text())
    assert data["results"]["run_dir"] == "."
    assert not [s for s in _strings(data) if str(tmp_path) in s]
    assert data["environment"]["code_version"] == code_version()


def test_adapt_json_reads_the_same_after_its_folder_is_moved(tmp_path):
    """adapt.json names each part's run dir relative to its own folder: moved elsewhere (as a
    committed results folder is checked out anywhere), the paired figures still find the
    parts' test items and the page still links their reports."""
    from contrastprompt.views.adapt import kept_result, matrix, page, paired_rows, scratch_row

    exs = yes_no_examples(40)
    made = (tmp_path / "made" / "a").resolve()
    adapt(
        Task("scripted", exs),
        "Answer the question.",
        source_model=SourceBackend(exs, set(range(30))),
        model=ScriptedBackend(exs),
        n_train=20,
        iterations=1,
        candidates=2,
        run_dir=made,
    )
    rows = json.loads((made / "adapt.json").read_text())["rows"]
    assert {r["run_dir"] for r in rows} == {"adapted", "scratch"}
    table = matrix([("a", kept_result(made))])
    moved = tmp_path / "elsewhere" / "a"
    moved.parent.mkdir()
    shutil.move(made, moved)
    back = kept_result(moved)
    adapted = next(r for r in back.rows if r["name"] == "adapted (best on train)")
    assert paired_rows(back, adapted, scratch_row(back)) is not None
    assert matrix([("a", back)]) == table
    assert 'href="adapted/report.html"' in page(back, "")


def _package_copy(dest: Path) -> Path:
    """A copy of the package's code (and one data file) outside any git checkout."""
    from contrastprompt.run.outputs import PACKAGE

    shutil.copytree(PACKAGE, dest, ignore=shutil.ignore_patterns("__pycache__", "benchmarks"))
    (dest / "data" / "benchmarks").mkdir()
    (dest / "data" / "benchmarks" / "items.jsonl").write_text('{"input": "a"}\n')
    return dest


def test_an_installed_copy_is_versioned_by_the_hash_of_its_code(tmp_path):
    from contrastprompt.run.outputs import version_of

    pkg = _package_copy(tmp_path / "site" / "contrastprompt")
    first = version_of(pkg)
    assert first.startswith("sha256:") and len(first) == len("sha256:") + 12
    (pkg / "data" / "benchmarks" / "items.jsonl").write_text('{"input": "b"}\n')
    assert version_of(pkg) == first  # data is not code
    template = next((pkg / "optimizers" / "templates").glob("*.txt"))
    template.write_text(template.read_text() + "\nOne more line.\n")
    changed = version_of(pkg)
    assert changed != first
    (pkg / "scoring.py").write_text((pkg / "scoring.py").read_text() + "\n# a change\n")
    assert version_of(pkg) not in (first, changed)


def test_a_git_checkout_is_versioned_by_its_commit_and_marked_dirty_when_changed(tmp_path):
    from contrastprompt.run.outputs import version_of

    if shutil.which("git") is None:
        pytest.skip("no git")
    repo = tmp_path / "checkout"
    pkg = _package_copy(repo / "src" / "contrastprompt")

    def git(*args: str) -> str:
        cmd = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.org"]
        return subprocess.run([*cmd, *args], capture_output=True, text=True, check=True).stdout

    git("init", "-q")
    git("add", "-A")
    git("commit", "-q", "-m", "code")
    commit = git("rev-parse", "HEAD").strip()
    assert version_of(pkg) == commit[:12]
    (repo / "README.md").write_text("outside the package\n")
    assert version_of(pkg) == commit[:12]
    (pkg / "scoring.py").write_text((pkg / "scoring.py").read_text() + "\n# a change\n")
    dirty = version_of(pkg)
    assert dirty.startswith(commit[:12] + "+dirty.")
