"""Figures of a finished run from what its run dir keeps: the store while it is there, else the
copies run.json carries. A committed run dir has no store (stores are caches, not results), yet
the bench's paired tests, adapt's page and the anytime curve must read the same figures from it.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..stats import paired_difference
from ..store import has_store, prompt_hash, scored_requests, stored_test_items


def test_items(run_dir: Path, prompts: list[str]) -> dict[str, dict[str, float]]:
    """Per test item scores of the given prompts (for paired tests), by prompt hash then item
    id, from the run's store, or from run.json's copy when the store is gone."""
    hashes = [prompt_hash(p) for p in prompts]
    kept = run_dir / "run.json"
    if has_store(run_dir):
        return stored_test_items(run_dir, hashes)
    if not kept.is_file():  # a part never run, or removed: nothing to pair
        return {}
    saved = json.loads(kept.read_text(encoding="utf-8")).get("test_items", {})
    return {h: saved[h] for h in hashes if h in saved}


def paired_test(a: tuple[Path, str], b: tuple[Path, str]) -> list[float] | None:
    """Prompt `a` minus prompt `b` (each with the run dir that scored it) on the test items
    both scored: mean and 95% bootstrap interval, or None when either has no per-item scores
    kept. Two prompts a few items apart are often within noise, so differences are paired."""
    per_item = []
    for run_dir, prompt in (a, b):
        items = test_items(run_dir, [prompt]).get(prompt_hash(prompt))
        if not items:
            return None
        per_item.append(items)
    m, lo, hi, _ = paired_difference(*per_item)
    return [m, lo, hi]


def anytime_curve(cands: list[dict], run_dir: Path, n_train: int) -> list[list[float]]:
    """Best training score so far against task requests spent, one point per scored prompt.
    Uses the requests run.json records with each candidate, else the 'scored' events of the
    store, else (runs before either) seq × |train|."""
    spent: dict[str, int] = {}
    if any("requests" not in c for c in cands) and has_store(run_dir):
        spent = scored_requests(run_dir)
    best, pts = 0.0, []
    for c in sorted(cands, key=lambda c: c["seq"]):
        best = max(best, c["score"])
        pts.append([c.get("requests", spent.get(c["hash"], (c["seq"] + 1) * n_train)), best])
    return pts
