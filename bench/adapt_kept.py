"""The finished adaptations under a bench's output dir, as the transfer matrix reads them.

Each run of adapt_sib.py or adapt_pairs.py may cover a few targets or seeds; matrix.md lists
every one that has finished (a run dir holding adapt.json), so a later run of other targets
adds rows instead of replacing the table.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

FIELDS = ("rows", "gap_before", "gap_after", "source", "recovered", "efficiency")


def finished(out: Path, label: Callable[[str], str]) -> list[tuple[str, SimpleNamespace]]:
    """(row label, result) for each run dir under `out` with an adapt.json, in name order;
    `label` turns a run dir's name into the matrix's row label."""
    entries = []
    for kept in sorted(out.glob("*/adapt.json")):
        data = json.loads(kept.read_text(encoding="utf-8"))
        res = SimpleNamespace(
            run_dir=kept.parent,
            mode=data.get("mode", ""),
            scratch_over_as_is=data.get("scratch_over_as_is"),
            **{k: data.get(k) for k in FIELDS},
        )
        entries.append((label(kept.parent.name), res))
    return entries
