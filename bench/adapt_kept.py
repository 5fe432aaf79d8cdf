"""The finished adaptations under a bench's output dir, as the transfer matrix reads them.

Each run of adapt_sib.py or adapt_pairs.py may cover a few targets or seeds; matrix.md lists
every one that has finished (a run dir holding adapt.json), so a later run of other targets
adds rows instead of replacing the table. Both benches also take LCP's settings from here
(`lcp_settings`), so their adapted and from-scratch parts run the same LCP.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

from contrastprompt.views.adapt import kept_result, matrix

# `--paper`: LCP's paper profile (every prompt on the whole training set, one reason a
# failure, N = 10), the closest to the schedule the committed runs were made with
PAPER = {"profile": "paper"}


def lcp_settings(paper: bool) -> dict:
    """LCP's settings for every LCP part of an adaptation bench (adapted, from scratch, a
    source model's own run): LCP's default profile, or with `--paper` the paper's."""
    return dict(PAPER) if paper else {}


def finished(out: Path, label: Callable[[str], str]) -> list[tuple[str, SimpleNamespace]]:
    """(row label, result) for each run dir under `out` with an adapt.json, in name order;
    `label` turns a run dir's name into the matrix's row label."""
    return [(label(k.parent.name), kept_result(k.parent)) for k in sorted(out.glob("*/adapt.json"))]


def redraw(out: Path, label: Callable[[str], str]) -> None:
    """matrix.md's table drawn again from the finished runs, its lines above the table (the
    partial mark, the command) kept: for a change in how the matrix is drawn, with no model
    run. The runs' per-item test scores come from their stores or run.json copies."""
    path = out / "matrix.md"
    head = path.read_text(encoding="utf-8").split("| target |", 1)[0] if path.is_file() else ""
    path.write_text(f"{head}{matrix(finished(out, label), spread=True)}\n", encoding="utf-8")
