"""SIGKILL the CLI at seeded moments, resume each time: nothing answered is asked again, the
store stays intact, and the run ends with the prompts of an uninterrupted run."""

from __future__ import annotations

import pytest

from .canned import CannedServer
from .harness import OPTIMIZE, duplicate_calls, kill_and_resume, result, run

pytestmark = pytest.mark.slow  # minutes of loopback servers, faults and kills


def test_optimize_killed_three_times_resumes_to_the_same_result(tmp_path):
    with CannedServer() as server:
        rc, _, err = run(OPTIMIZE, server.base_url, tmp_path / "ref")
        assert rc == 0, err
        n_ref = len(server.received)
        assert n_ref > 100
        repeated, checks, rc, err = kill_and_resume(
            server, OPTIMIZE, tmp_path / "victim", kills=3, n_ref=n_ref, seed=1
        )
    assert rc == 0, err
    # no answer the client received and stored was ever asked for again (each request key has
    # one call in the store over all processes); the server may have answered a few requests
    # that were in flight at a kill, which the killed client never read: at most its 4 slots
    assert duplicate_calls(tmp_path / "victim") == 0
    assert len(repeated) <= 3 * 4, f"{len(repeated)} answered requests were sent again"
    assert checks and all(c == "ok" for c in checks)
    assert result(tmp_path / "victim") == result(tmp_path / "ref")
