"""Shared by tests/reliability and bench/reliability.py: run the CLI against the canned server,
kill it at seeded moments, and read what the server and the run dir saw."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FAKE_KEY = "sk-FAKE-contrastprompt-5f3c9a17e2"
OPTIMIZE = [
    "optimize",
    "--task",
    "examples/reviews.jsonl",
    "--prompt-file",
    "examples/reviews_prompt.txt",
    "--model",
    "openai:canned",
    "--optimizer-model",
    "openai:canned",
    "--seed",
    "0",
    "--n-train",
    "20",
    "--iterations",
    "3",
    "--candidates",
    "4",
    # the published schedule scores every prompt on the whole training set: enough requests
    # for the kills and faults to land all over the loop (the default races on minibatches)
    "--set",
    "profile=paper",
    "--test-limit",
    "20",
]


def env(**extra: str) -> dict[str, str]:
    return {**os.environ, "OPENAI_API_KEY": FAKE_KEY, "CONTRASTPROMPT_TIMEOUT": "1", **extra}


def start(args: list[str], base_url: str, run_dir: Path, **kw) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "contrastprompt",
            *args,
            "--base-url",
            base_url,
            "--run-dir",
            str(run_dir),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(),
        **kw,
    )


def run(
    args: list[str], base_url: str, run_dir: Path, timeout: float = 900
) -> tuple[int, str, str]:
    p = start(args, base_url, run_dir)
    out, err = p.communicate(timeout=timeout)
    return p.returncode, out, err


def integrity(store: Path) -> str:
    con = sqlite3.connect(store)
    try:
        return con.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        con.close()


def kill_and_resume(server, args: list[str], run_dir: Path, kills: int, n_ref: int, seed: int):  # noqa: ANN001, ANN201
    """Kill the CLI `kills` times at seeded request counts, resume after each, then let it
    finish. Returns (requests answered before a kill and sent again later, integrity results,
    final return code)."""
    rng = random.Random(seed)
    answered_before: set[str] = set()
    repeated: set[str] = set()
    checks = []
    for _ in range(kills):
        with server.lock:
            mark = len(server.received)
        target = mark + rng.randint(1, max(2, n_ref // (kills + 1)))
        p = start(args, server.base_url, run_dir)
        while p.poll() is None:
            with server.lock:
                if len(server.received) >= target:
                    break
            time.sleep(0.002)
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
        p.communicate()
        time.sleep(0.3)  # let the requests in flight at the kill finish at the server
        with server.lock:
            sent = set(server.received[mark:])
            repeated |= answered_before & sent
            answered_before |= set(server.answered[mark:])
        if (run_dir / "store.sqlite").exists():
            checks.append(integrity(run_dir / "store.sqlite"))
    with server.lock:
        mark = len(server.received)
    rc, _, err = run(args, server.base_url, run_dir)
    with server.lock:
        repeated |= answered_before & set(server.received[mark:])
    return repeated, checks, rc, err


def result(run_dir: Path) -> dict:
    data = json.loads((run_dir / "run.json").read_text())
    return {
        "candidates": [(c["text"], c["score"]) for c in data["candidates"]],
        "best": data["results"]["best_prompt"],
        "last": data["results"]["last_prompt"],
        "test": data["results"]["best_test_score"],
    }


def duplicate_calls(run_dir: Path) -> int:
    con = sqlite3.connect(run_dir / "store.sqlite")
    try:
        q = "SELECT COUNT(*) FROM (SELECT key FROM llm_calls GROUP BY key HAVING COUNT(*) > 1)"
        return con.execute(q).fetchone()[0]
    finally:
        con.close()
