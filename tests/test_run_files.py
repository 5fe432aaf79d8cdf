"""What a run leaves in its run dir: a local server's log only when it holds something."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from contrastprompt.errors import UserError


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
