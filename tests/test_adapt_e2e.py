"""Adaptation end to end through the CLI and the real model servers, at small budgets: one
language pair (XCOPA Indonesian → Swahili, both prompt languages) and one model pair (SmolLM2-135M
→ Qwen2.5-Coder-1.5B as the task model)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.model, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
SMALL = [
    "--n-train",
    "6",
    "--test-limit",
    "6",
    "--iterations",
    "1",
    "--candidates",
    "2",
    "--max-failures",
    "3",
    "--optimizer-model",
    "local:smollm2-135m",
]


def adapt(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "contrastprompt", "adapt", *args, *SMALL],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1800,
    )


def test_language_pair_both_prompt_languages(tmp_path):
    run = tmp_path / "copa"
    p = adapt(
        "--task",
        "xcopa:sw",
        "--source-task",
        "xcopa:id",
        "--model",
        "local:smollm2-135m",
        "--prompt",
        "Pick the more plausible option. End with 'Answer: (A)' or 'Answer: (B)'.",
        "--prompt-language",
        "both",
        "--run-dir",
        str(run),
    )
    assert p.returncode == 0, p.stderr[-3000:]
    data = json.loads((run / "adapt.json").read_text())
    names = [r["name"] for r in data["rows"]]
    assert names[0] == "source prompt as is"
    assert any(n.startswith("adapted (") for n in names)
    assert any(n.startswith("adapted-sw") for n in names)
    assert names[-1].startswith("LCP from scratch")
    assert all(r["test"] is not None for r in data["rows"])
    assert data["mode"] == "language" and set(data["source"]["drift"]) == {"adapted", "adapted-sw"}
    # the source side: the Indonesian items with the Swahili training ids, scored once
    con = sqlite3.connect(run / "source" / "store.sqlite")
    ids = [r[0] for r in con.execute("SELECT example_id FROM evaluations")]
    con.close()
    target = json.loads((run / "adapted" / "run.json").read_text())
    assert len(ids) == 6 and target["settings"]["source"]["task"] == "xcopa:id"
    assert "in the expected language" in p.stdout


def test_model_pair(tmp_path):
    run = tmp_path / "models"
    pair = [
        "--task",
        "examples/reviews.jsonl",
        "--prompt-file",
        "examples/reviews_prompt.txt",
        "--source-model",
        "local:smollm2-135m",
        "--target-model",
        "local:qwen2.5-coder-1.5b",
        "--run-dir",
        str(run),
    ]
    p = adapt(*pair)
    assert p.returncode == 0, p.stderr[-3000:]
    data = json.loads((run / "adapt.json").read_text())
    assert data["mode"] == "model" and data["gap_before"] is not None
    settings = json.loads((run / "adapted" / "run.json").read_text())["settings"]
    assert settings["model"] == "local:qwen2.5-coder-1.5b"
    assert settings["source"]["model"] == "local:smollm2-135m"
    assert "Transfer gap" in p.stdout

    # results kept without their stores (as under version control): the same command reads
    # the source side back from source.json and every finished part from its run.json
    for db in run.rglob("*.sqlite"):
        db.unlink()
    again = adapt(*pair)
    assert again.returncode == 0, again.stderr[-3000:]
    said = again.stdout + again.stderr  # the status lines go to stderr
    assert said.count("finished earlier, read back from") == 2, said[-3000:]
    assert json.loads((run / "adapt.json").read_text())["rows"] == data["rows"]
    assert not (run / "adapted" / "store.sqlite").exists()


def test_language_matrix_with_meta_prompts_in_the_target_language(tmp_path):
    run = tmp_path / "matrix"
    p = adapt(
        "--task",
        "xcopa:sw,xcopa:et",
        "--source-task",
        "xcopa:id",
        "--matrix",
        "--model",
        "local:smollm2-135m",
        "--prompt",
        "Pick the more plausible option. End with 'Answer: (A)' or 'Answer: (B)'.",
        "--prompt-language",
        "target",
        "--meta-language",
        "target",
        "--no-scratch",
        "--run-dir",
        str(run),
    )
    assert p.returncode == 0, p.stderr[-3000:]
    table = (run / "matrix.md").read_text()
    assert "| xcopa:sw |" in table and "| xcopa:et |" in table and "Spread across" in table
    for lang in ("sw", "et"):
        con = sqlite3.connect(run / f"xcopa-{lang}" / f"adapted-{lang}-meta" / "store.sqlite")
        (data,) = con.execute("SELECT data FROM events WHERE kind = 'meta_language'").fetchone()
        con.close()
        ev = json.loads(data)
        # whether the small optimizer kept every placeholder is up to it; the check is recorded
        assert len(ev["templates"]) == 3 and ev["language"] in ("Swahili", "Estonian")
