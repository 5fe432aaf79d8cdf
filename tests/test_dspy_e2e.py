"""A two-predictor DSPy program on TREC, its instructions optimized by `contrastprompt.dspy.LCP`,
with every model call made by DSPy's own LM client against the embedded engine's
OpenAI-compatible endpoint (a real llama.cpp server over HTTP). The run is killed mid-way and
run again: it finishes without running the program again on what was stored."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.model

REPO = Path(__file__).resolve().parents[1]


def _stored(run_dir: Path, split: str = "train") -> int:
    """Evaluations stored so far over the predictors' runs."""
    n = 0
    for db in run_dir.glob("*/store.sqlite"):
        try:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
                sql = "select count(*) from evaluations where split = ?"
                n += con.execute(sql, (split,)).fetchone()[0]
        except sqlite3.Error:  # created but not initialised yet
            pass
    return n


def _command(url: str, run_dir: Path) -> list[str]:
    return [
        sys.executable,
        str(REPO / "examples" / "dspy_trec.py"),
        "--api-base",
        url,
        "--run-dir",
        str(run_dir),
        "--n-train",
        "4",
        "--n-val",
        "4",
        "--budget",
        "24",
        "--max-optimizer-calls",
        "6",
        "--max-tokens",
        "24",
    ]


def test_dspy_program_optimized_killed_and_resumed(local_urls, tmp_path):
    run_dir = tmp_path / "runs"
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    proc = subprocess.Popen(
        _command(local_urls[0], run_dir),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    deadline = time.monotonic() + 1200
    while _stored(run_dir) < 3 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.5)
    assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = _stored(run_dir)
    assert before >= 3

    done = subprocess.run(
        _command(local_urls[0], run_dir), env=env, capture_output=True, text=True, timeout=2400
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(out["results"]) == {"kind", "label"}
    total = _stored(run_dir)
    # what was stored before the kill was not asked again (the resumed process ran the
    # program only for the rest, plus the validation side)
    assert total > before
    val = _stored(run_dir, "test")
    assert out["program_calls"] <= total - before + val
    for name, res in out["results"].items():
        d = Path(res["run_dir"])
        run = json.loads((d / "run.json").read_text())
        assert run["settings"]["model"] == "dspy:openai/local"
        assert run["usage"]["task"]["requests"] <= 12  # half of 24 program calls each
        assert run["usage"]["optimizer"]["requests"] <= 3  # half of 6
        assert (d / "report.html").is_file()
        assert out["instructions"][name] == run["results"]["best_prompt"]
        assert res["best_val"] is not None
