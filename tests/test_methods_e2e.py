"""Every baseline end to end through the `bench` command on the embedded model (real llama.cpp
server over HTTP, real SQLite stores, the CLI as a subprocess): each method runs at a small equal
budget, the tables and page are written, and a second run of the same command asks nothing."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.model, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
METHODS = ["apo", "opro", "autohint", "ape", "gepa", "cot", "initial"]
BUDGET, OPT_CALLS = 24, 6
ARGS = [
    "--tasks",
    "examples/reviews.jsonl",
    "--methods",
    ",".join(METHODS),
    "--budget",
    str(BUDGET),
    "--n-train",
    "6",
    "--test-limit",
    "6",
    "--max-optimizer-calls",
    str(OPT_CALLS),
    "--model",
    "local:smollm2-135m",
    "--optimizer-model",
    "local:smollm2-135m",  # plumbing on the fast model; the 1.5B runs in bench/
]


def bench(*args: str, timeout: int = 1500) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "contrastprompt", "bench", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def calls(root: Path) -> int:
    total = 0
    for store in root.glob("*/*/s*/store.sqlite"):
        con = sqlite3.connect(store)
        total += con.execute("SELECT COUNT(*) FROM llm_calls").fetchone()[0]
        con.close()
    return total


@pytest.fixture(scope="module")
def bench_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("bench") / "b"
    p = bench(*ARGS, "--run-dir", str(root))
    assert p.returncode == 0, p.stderr[-3000:]
    return root


def test_every_method_ran_within_the_budget(bench_root):
    for m in METHODS:
        run = json.loads(
            (bench_root / "examples-reviews.jsonl" / m / "s0" / "run.json").read_text()
        )
        assert run["settings"]["method"] == m
        u = run["usage"]
        assert 6 <= u["task"]["requests"] <= BUDGET
        assert u["optimizer"]["requests"] <= OPT_CALLS
        if m in ("cot", "initial"):
            assert u["optimizer"]["requests"] == 0 and len(run["candidates"]) == 1
        else:  # an optimizer that never asked its model did not run its method
            assert u["optimizer"]["requests"] > 0, (m, run["stop_reason"])
        assert run["results"]["best_test_score"] is not None


def test_tables_and_page(bench_root):
    summary = json.loads((bench_root / "bench.json").read_text())
    assert summary["partial"] is False
    assert set(summary["cells"]["examples/reviews.jsonl"]) == set(METHODS)
    md = (bench_root / "bench.md").read_text()
    assert "Win rates, best prompts" in md and "| apo |" in md and "its train score" in md
    assert "its top answer" in md
    # "prompts scored" is the size of the pool the best-on-train pick came from, per method
    header = next(line for line in md.splitlines() if line.startswith("| method |"))
    col = [h.strip() for h in header.split("|")].index("prompts scored")
    for m in METHODS:
        row = next(line for line in md.splitlines() if line.startswith(f"| {m} |"))
        run = json.loads(
            (bench_root / "examples-reviews.jsonl" / m / "s0" / "run.json").read_text()
        )
        assert row.split("|")[col].strip() == str(len(run["candidates"])), (m, row)
    assert "Most common answer among the test items" in md
    # the header names the models as the stores do, not by the alias the user typed
    assert "task model `local:smollm2-135m`, optimizer model `local:smollm2-135m`" in md
    page = (bench_root / "bench.html").read_text()
    for m in METHODS:
        assert f'data-method="{m}"' in page


def test_second_run_reads_finished_cells_and_asks_nothing(bench_root):
    before = calls(bench_root)
    p = bench(*ARGS, "--run-dir", str(bench_root))
    assert p.returncode == 0, p.stderr[-2000:]
    assert calls(bench_root) == before
    assert "Win rates" in p.stdout


def test_tables_rebuild_from_committed_text_without_the_stores(bench_root, tmp_path):
    """What a reader commits (run.json, cell.json) rebuilds the same tables with no store."""
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(bench_root, copy, ignore=shutil.ignore_patterns("*.sqlite*", "bench.*"))
    assert not list(copy.rglob("*.sqlite"))
    p = bench(*ARGS, "--run-dir", str(copy), "--tables-only")
    assert p.returncode == 0, p.stderr[-2000:]
    assert (copy / "bench.md").read_text() == (bench_root / "bench.md").read_text().replace(
        str(bench_root), str(copy)
    )


def test_a_budget_too_small_for_a_step_is_skipped_with_a_note(tmp_path):
    p = bench(
        "--tasks",
        "examples/reviews.jsonl",
        "--methods",
        "opro",
        "--budget",
        "8",
        "--n-train",
        "6",
        "--run-dir",
        str(tmp_path),
    )
    assert p.returncode == 0, p.stderr[-2000:]
    assert "skipped: a budget of 8 cannot score one new prompt" in p.stderr
