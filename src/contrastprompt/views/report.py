"""The run report: a self-contained HTML page (inline SVG, no scripts, no network) from a run
dir's run.json and store. What is particular to a method (its origins' colours, its own section)
comes from the method object, so the view knows no method by name."""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Any, Protocol

from markupsafe import Markup, escape

from ..errors import UserError
from ..store import Store, has_store
from . import render
from .charts import best_curve, scatter

BASE_COLORS = {"initial": "#444444"}


class Describes(Protocol):
    """What the report asks of a method (every registered optimizer has it)."""

    origins: dict[str, str]

    def report_data(self, events: Any, by_hash: dict) -> list[dict]: ...


def load_run(run_dir: str | Path) -> tuple[dict, Store, int]:
    d = Path(run_dir)
    if not (d / "run.json").is_file() or not has_store(d):
        raise UserError(
            "not a finished run directory (no run.json or store.sqlite)",
            source=str(d),
            field="run_dir",
        )
    data = json.loads((d / "run.json").read_text(encoding="utf-8"))
    store = Store(d / "store.sqlite")
    row = store.find_run("optimize")
    return data, store, int(row["id"]) if row else 1


def diff(a: str, b: str) -> Markup:
    """Word diff of two prompts, deletions and insertions marked."""
    out = []
    aw, bw = a.split(), b.split()
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=aw, b=bw).get_opcodes():
        if op == "equal":
            out.append(escape(" ".join(aw[i1:i2])))
        if op in ("delete", "replace"):
            out.append(Markup("<del>%s</del>") % " ".join(aw[i1:i2]))
        if op in ("insert", "replace"):
            out.append(Markup("<ins>%s</ins>") % " ".join(bw[j1:j2]))
    return Markup(" ").join(out)


def render_report(run_dir: str | Path, method: Describes | None = None) -> str:
    data, store, run_id = load_run(run_dir)
    try:
        cands = data["candidates"]
        by_hash = {c["hash"]: c for c in cands}
        sections = (
            method.report_data(lambda kind: store.events(run_id, kind, distinct=True), by_hash)
            if method
            else []
        )
        skipped = len(store.events(run_id, "skipped", distinct=True))
    finally:
        store.close()
    res, s = data["results"], data["settings"]
    colors = BASE_COLORS | (method.origins if method else {})
    picks = [
        (rule, p)
        for rule, p in res.get("selections", {}).items()
        if rule != res.get("select", "best") and p["prompt"] != res["best_prompt"]
    ]
    return render(
        "report.html.j2",
        s=s,
        res=res,
        data=data,
        skipped=skipped,
        picks=picks,
        sections=sections,
        scatter=Markup(scatter(cands, colors)),
        best_curve=Markup(best_curve(cands, s["n_train"])),
        diff=diff(res["initial_prompt"], res["best_prompt"]),
        ranked=sorted(cands, key=lambda c: (-c["score"], c["seq"])),
    )


def write_report(run_dir: str | Path, method: Describes | None = None) -> Path:
    path = Path(run_dir) / "report.html"
    path.write_text(render_report(run_dir, method), encoding="utf-8")
    return path
