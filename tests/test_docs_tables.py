"""The measured tables in the benchmark pages are the bench's own outputs, not retyped."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_docs_tables_match_the_bench_outputs():
    proc = subprocess.run(
        [sys.executable, "bench/docs_tables.py", "--check"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_table_edited_by_hand_is_caught(tmp_path, monkeypatch):
    sys.path.insert(0, str(REPO / "bench"))
    try:
        import docs_tables
    finally:
        sys.path.pop(0)
    page = next(p for p in docs_tables.PAGES if "| sw | 55.0%" in p.read_text(encoding="utf-8"))
    docs = page.read_text(encoding="utf-8")
    edited = docs.replace("| sw | 55.0%", "| sw | 65.0%", 1)
    assert edited != docs
    assert docs_tables.render(edited) == docs_tables.render(docs) != edited
