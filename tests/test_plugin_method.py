"""A method added from outside the package, in one file plus an entry point, appears in
`optimize --help`, runs in `bench` next to the built-in methods, and draws its own prompts and
section in the run report: nothing in contrastprompt is edited to add it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

TOY = '''
from dataclasses import dataclass

from contrastprompt.optimizers.base import BaseOptimizer, group, section


@dataclass
class ToySettings:
    suffix: str = " Reply with the label only."


class Toy(BaseOptimizer):
    """Appends one sentence to the prompt, once."""

    name = "toy"
    title = "toy: appends a sentence to the prompt"
    origins = {"appended": "#123456"}
    Settings = ToySettings

    def project(self, n_train, iterations):
        return {"task_requests": 2 * n_train, "optimizer_requests": 0}

    async def step(self, ctx, iteration, current):
        if iteration > 1:
            self.why = "toy: nothing more to append"
            return None
        return await ctx.score(current.text + self.s.suffix, origin="appended", iteration=1)

    def report_data(self, events, by_hash):
        appended = [c["text"] for c in by_hash.values() if c["origin"] == "appended"]
        return [section("Toy appendix", [group("prompts with the sentence", appended)])]
'''


@pytest.fixture()
def plugin_env(tmp_path: Path) -> dict[str, str]:
    """A directory on PYTHONPATH holding the toy module and the distribution metadata that
    declares its entry point, as `pip install` of a one-file plugin would leave them."""
    site = tmp_path / "site"
    (site / "toy_method-0.1.dist-info").mkdir(parents=True)
    (site / "toy_method.py").write_text(TOY, encoding="utf-8")
    info = site / "toy_method-0.1.dist-info"
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-method\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[contrastprompt.optimizers]\ntoy = toy_method:Toy\n")
    path = os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH", "")]))
    return {**os.environ, "PYTHONPATH": path, "COLUMNS": "200"}


def cli(env: dict[str, str], *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "contrastprompt", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_plugin_method_is_listed_in_help(plugin_env):
    assert "toy" not in cli(dict(os.environ, COLUMNS="200"), "optimize", "--help").stdout
    proc = cli(plugin_env, "optimize", "--help")
    assert proc.returncode == 0, proc.stderr
    assert "toy" in proc.stdout


def test_broken_plugin_is_skipped_with_one_line(plugin_env, tmp_path):
    (tmp_path / "site" / "toy_method.py").write_text("raise RuntimeError('broken on purpose')\n")
    proc = cli(plugin_env, "bench", "--dry-run", "--tasks", "examples/reviews.jsonl")
    assert proc.returncode == 0, proc.stderr
    assert "method plugin 'toy'" in proc.stderr and "broken on purpose" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.model
def test_plugin_method_runs_in_bench_and_draws_its_report(plugin_env, tmp_path):
    root = tmp_path / "bench"
    args = ["--tasks", "examples/reviews.jsonl", "--methods", "toy,initial", "--reference"]
    args += ["toy", "--n-train", "6", "--test-limit", "6", "--budget", "12", "--run-dir"]
    args += [str(root), "--model", "local:smollm2-135m", "--optimizer-model", "local:smollm2-135m"]
    proc = cli(plugin_env, "bench", *args)
    assert proc.returncode == 0, proc.stderr
    data = json.loads((root / "bench.json").read_text())
    assert data["reference"] == "toy"
    cells = next(iter(data["cells"].values()))
    assert set(cells) == {"toy", "initial"}
    assert "reference_minus" in cells["initial"]
    run = next(root.glob("*/toy/s0"))
    result = json.loads((run / "run.json").read_text())
    assert [c["origin"] for c in result["candidates"]] == ["initial", "appended"]
    page = (run / "report.html").read_text()
    assert 'fill="#123456"' in page and "Toy appendix" in page
    assert "Reply with the label only." in page
