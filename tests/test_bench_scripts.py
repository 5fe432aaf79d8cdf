"""The bench scripts still start under the current code: each one's `--help`, the dry runs and
the table redraws exit 0 without starting a model, and the LCP settings the adaptation benches
build are settings LCP accepts (a bench that passes a removed setting stops with an error only
once its run has begun)."""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from contrastprompt.inputs import resolve_task
from contrastprompt.llm import ModelHub, ResponseCache
from contrastprompt.optimizers import AdaptLCP, build_optimizer, parse_settings

from .scripted import ScriptedBackend

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"
SCRIPTS = sorted(
    p.name for p in BENCH.glob("*.py") if 'if __name__ == "__main__"' in p.read_text("utf-8")
)
# runs a script as `python bench/<script>.py ...` would, with the embedded model server made to
# refuse to start: a script that reaches a model exits 3 instead
RUNNER = """
import runpy, sys
from contrastprompt.llm import local

def refuse(self):
    print("a model server was started", file=sys.stderr)
    raise SystemExit(3)

local.LocalServer.start = refuse
script = sys.argv[1]
sys.path.insert(0, str(__import__("pathlib").Path(script).parent))
sys.argv = sys.argv[1:]
runpy.run_path(script, run_name="__main__")
"""
PAIR = "qwen2.5-coder-1.5b:qwen2.5-coder-0.5b"


def run(script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", RUNNER, str(BENCH / script), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def bench_path(monkeypatch):  # noqa: ANN001, ANN201
    """The bench folder importable, as it is for a script run from it."""
    monkeypatch.syspath_prepend(str(BENCH))


def test_every_bench_script_with_a_main_is_listed():
    assert {"adapt_pairs.py", "adapt_sib.py", "meta_prompts.py", "public_tables.py"} <= set(SCRIPTS)


@pytest.mark.parametrize("script", SCRIPTS)
def test_help_exits_0(script):
    proc = run(script, "--help")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "usage" in proc.stdout.lower()


@pytest.mark.parametrize("paper", [[], ["--paper"]], ids=["default", "paper"])
def test_adapt_pairs_dry_run_plans_with_lcp_settings_it_accepts(tmp_path, paper):
    proc = run(
        "adapt_pairs.py",
        "--dry-run",
        "--pairs",
        PAIR,
        "--seeds",
        "0",
        "--out",
        str(tmp_path),
        *paper,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "1 pairs x 1 seeds on cls:trec" in proc.stdout


@pytest.mark.parametrize("paper", [[], ["--paper"]], ids=["default", "paper"])
def test_adapt_sib_dry_run_plans_with_lcp_settings_it_accepts(tmp_path, paper):
    proc = run(
        "adapt_sib.py",
        "--dry-run",
        "--langs",
        "swh_Latn",
        "--seeds",
        "0",
        "--out",
        str(tmp_path),
        *paper,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "1 languages x 1 seeds" in proc.stdout


def test_dspy_compare_dry_run_exits_0():
    proc = run("dspy_compare.py", "--dry-run")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "runs" in proc.stdout


@pytest.mark.parametrize("paper", [False, True])
def test_the_adaptation_benches_lcp_settings_are_lcp_settings(bench_path, paper):
    import adapt_kept
    import adapt_pairs

    given = adapt_kept.lcp_settings(paper)
    ns = argparse.Namespace(budget=150, scratch_budget=300, max_optimizer_calls=20, paper=paper)
    assert adapt_pairs.target_limits(ns)["lcp_settings"] == given
    # the `--set` path and the two builders the adaptation's parts use
    assert parse_settings("lcp", [f"{k}={v}" for k, v in given.items()]) == given
    lcp = build_optimizer("lcp", **given)
    adapted = AdaptLCP(set(), **given)
    assert lcp.paper is adapted.paper is paper
    assert (lcp.s.screen == 0) is paper  # the paper profile scores every prompt on the whole set


def test_redraw_reads_the_committed_runs_back(tmp_path):
    """`--tables` on a copy of committed runs draws the committed table again."""
    kept = REPO / "bench/results/adapt_pairs_half_read"
    out = tmp_path / "runs"
    shutil.copytree(kept, out)
    proc = run("adapt_pairs.py", "--tables", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (out / "matrix.md").read_text("utf-8") == (kept / "matrix.md").read_text("utf-8")


def test_meta_prompts_probe_runs_lcps_current_steps(bench_path, tmp_path):
    """The probe calls LCP's own reason and candidate steps; with a scripted optimizer (its
    bookkeeping only) every answer is usable and every candidate is scored."""
    import meta_prompts

    task = resolve_task("bbh:navigate")
    train, _ = task.split(seed=0, n_train=30)
    backend = ScriptedBackend(train)
    args = argparse.Namespace(
        model=backend,
        optimizer_model=backend,
        prompt=None,
        n_train=30,
        failures=6,
        candidates=4,
        seed=0,
    )

    async def go() -> dict:
        hub = ModelHub(cache=ResponseCache(tmp_path / "c.sqlite"), log_dir=tmp_path)
        try:
            return await meta_prompts.probe("bbh:navigate", args, hub, tmp_path)
        finally:
            await hub.aclose()

    r = asyncio.run(go())
    assert r["failures_sent"] == 6 and len(r["reasons"]) == 6
    assert len(r["candidates"]) == 4
    assert r["usable_answers"] == r["optimizer_answers"] > 0
