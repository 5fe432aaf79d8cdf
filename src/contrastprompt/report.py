"""A self-contained HTML report of a run (inline SVG, no scripts, no network), and the summary
table the CLI prints."""

from __future__ import annotations

import difflib
import html
import json
from pathlib import Path

from .errors import UserError
from .optimizers import ALL_METHODS
from .store import Store

COLORS = {
    "initial": "#444444",
    "candidate": "#4c78a8",
    "contrast": "#e45756",
    "proposal": "#54a24b",
    "edit": "#f58518",
    "beam": "#b279a2",
    "hinted": "#9d755d",
}


def load_run(run_dir: str | Path) -> tuple[dict, Store, int]:
    d = Path(run_dir)
    if not (d / "run.json").is_file() or not (d / "store.sqlite").is_file():
        raise UserError(
            "not a finished run directory (no run.json or store.sqlite)",
            source=str(d),
            field="run_dir",
        )
    data = json.loads((d / "run.json").read_text(encoding="utf-8"))
    store = Store(d / "store.sqlite")
    row = store.find_run("optimize")
    return data, store, int(row["id"]) if row else 1


def _scatter(cands: list[dict], w: int = 640, h: int = 300) -> str:
    """Train score of every scored prompt, by iteration: one mark per candidate."""
    pad = 40
    iters = max([c["iteration"] for c in cands] + [1])
    per_iter: dict[int, int] = {}
    marks = []
    for c in cands:
        k = per_iter.get(c["iteration"], 0)
        per_iter[c["iteration"]] = k + 1
        x = pad + (c["iteration"] + 0.5) / (iters + 1) * (w - 2 * pad) + ((k % 9) - 4) * 5
        y = h - pad - c["score"] * (h - 2 * pad)
        tip = html.escape(
            f"#{c['seq']} {c['origin']} it {c['iteration']}: {c['score']:.3f}\n{c['text'][:300]}"
        )
        marks.append(
            f'<circle class="cand" data-hash="{c["hash"]}" data-origin="{c["origin"]}" '
            f'cx="{x:.1f}" cy="{y:.1f}" r="5" fill="{COLORS.get(c["origin"], "#999")}" '
            f'fill-opacity="0.8"><title>{tip}</title></circle>'
        )
    axes = _axes(
        w,
        h,
        pad,
        [(pad + (i + 0.5) / (iters + 1) * (w - 2 * pad), str(i)) for i in range(iters + 1)],
        "iteration",
    )
    legend = "".join(
        f'<text x="{w - 150}" y="{20 + 14 * i}" fill="{col}" font-size="12">● {o}</text>'
        for i, (o, col) in enumerate(COLORS.items())
    )
    return (
        f'<svg id="scores" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" '
        f'aria-label="train score per candidate">{axes}{legend}{"".join(marks)}</svg>'
    )


def _axes(w: int, h: int, pad: int, xticks: list[tuple[float, str]], xlabel: str) -> str:
    parts = [
        f'<line x1="{pad}" y1="{h - pad}" x2="{w - pad}" y2="{h - pad}" stroke="#333"/>',
        f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{h - pad}" stroke="#333"/>',
    ]
    for v in (0, 0.25, 0.5, 0.75, 1.0):
        y = h - pad - v * (h - 2 * pad)
        parts.append(
            f'<text x="{pad - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">'
            f"{v:.2f}</text>"
            f'<line x1="{pad}" y1="{y:.1f}" x2="{w - pad}" y2="{y:.1f}" stroke="#eee"/>'
        )
    for x, label in xticks:
        parts.append(
            f'<text x="{x:.1f}" y="{h - pad + 16}" font-size="11" '
            f'text-anchor="middle">{html.escape(label)}</text>'
        )
    parts.append(
        f'<text x="{w / 2}" y="{h - 6}" font-size="12" text-anchor="middle">'
        f"{html.escape(xlabel)}</text>"
    )
    return "".join(parts)


def _selection_rows(res: dict) -> str:
    """The other selection rules' picks, where they differ from the returned best prompt."""
    rows = []
    for rule, pick in res.get("selections", {}).items():
        if rule != res.get("select", "best") and pick["prompt"] != res["best_prompt"]:
            rows.append(
                f'<tr class="pick"><td>{html.escape(rule)} rule would pick</td><td>{_fmt(pick["train"])}'
                f"</td><td>{_fmt(pick['test'])}</td></tr>"
            )
    return "\n".join(rows)


def _best_curve(cands: list[dict], n_train: int, w: int = 640, h: int = 300) -> str:
    """Best train score so far against task-model requests spent (in creation order)."""
    pad = 40
    pts, best = [], 0.0
    for i, c in enumerate(sorted(cands, key=lambda c: c["seq"]), 1):
        best = max(best, c["score"])
        pts.append((i * n_train, best))
    xmax = max([p[0] for p in pts] + [1])
    xy = [(pad + x / xmax * (w - 2 * pad), h - pad - y * (h - 2 * pad)) for x, y in pts]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
    dots = "".join(
        f'<circle class="best" cx="{x:.1f}" cy="{y:.1f}" r="3" fill="#54a24b"/>' for x, y in xy
    )
    ticks = [(pad + f * (w - 2 * pad), str(int(f * xmax))) for f in (0, 0.25, 0.5, 0.75, 1)]
    return (
        f'<svg id="best" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" '
        f'aria-label="best so far">{_axes(w, h, pad, ticks, "task-model requests (train)")}'
        f'<polyline points="{path}" fill="none" stroke="#54a24b" stroke-width="2"/>{dots}'
        "</svg>"
    )


def _diff(a: str, b: str) -> str:
    out = []
    sm = difflib.SequenceMatcher(a=a.split(), b=b.split())
    aw, bw = a.split(), b.split()
    for op, i1, i2, j1, j2 in sm.get_opcodes():
        if op == "equal":
            out.append(html.escape(" ".join(aw[i1:i2])))
        if op in ("delete", "replace"):
            out.append(f"<del>{html.escape(' '.join(aw[i1:i2]))}</del>")
        if op in ("insert", "replace"):
            out.append(f"<ins>{html.escape(' '.join(bw[j1:j2]))}</ins>")
    return " ".join(out)


def _usage_rows(usage: dict) -> str:
    rows = []
    for role, u in usage.items():
        cost = "-" if u.get("cost") is None else f"{u['cost']:.4f}"
        rows.append(
            f"<tr><td>{role}</td><td>{u['requests']}</td><td>{u['calls']}</td>"
            f"<td>{u['cache_hits']}</td><td>{u['prompt_tokens']}</td>"
            f"<td>{u['completion_tokens']}</td><td>{u['length_stops']}</td>"
            f"<td>{cost}</td></tr>"
        )
    return "".join(rows)


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.1%}"


def render_report(run_dir: str | Path) -> str:
    data, store, run_id = load_run(run_dir)
    try:
        cands = data["candidates"]
        by_hash = {c["hash"]: c for c in cands}
        res = data["results"]
        e = html.escape
        method = ALL_METHODS.get(data["settings"]["method"])
        section = (
            method().report_section(lambda kind: store.events(run_id, kind), by_hash)
            if method
            else ""
        )
        skipped = len(store.events(run_id, "skipped"))
        rows = "".join(
            f"<tr><td>{c['seq']}</td><td>{c['iteration']}</td><td>{c['origin']}</td>"
            f"<td>{c['score']:.3f}</td><td><pre>{e(c['text'])}</pre></td></tr>"
            for c in sorted(cands, key=lambda c: (-c["score"], c["seq"]))
        )
    finally:
        store.close()
    s = data["settings"]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>contrastprompt run: {e(s["task"])}</title>
<style>
body{{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}}
pre{{white-space:pre-wrap;background:#f6f6f6;padding:.5em;margin:.2em 0}}
table{{border-collapse:collapse}} td,th{{border:1px solid #ccc;padding:.25em .5em;vertical-align:top}}
del{{background:#fdd}} ins{{background:#dfd}} svg{{border:1px solid #ddd;margin:.5em 0}}
</style></head><body>
<h1>{e(s["task"])}: {e(s["method"].upper())} run</h1>
<p>Task model <code>{e(s["model"])}</code>, optimizer model <code>{e(s["optimizer_model"])}</code>,
seed {s["seed"]}, {s["n_train"]} training examples. Stopped because: <b id="stop">{e(data["stop_reason"])}</b>.
{skipped} optimizer answers were unusable and skipped.</p>
<table id="results"><tr><th>prompt</th><th>train</th><th>test</th></tr>
<tr><td>initial</td><td>{_fmt(res["initial_train_score"])}</td><td>{_fmt(res["initial_test_score"])}</td></tr>
<tr><td>last</td><td>{_fmt(res["last_train_score"])}</td><td>{_fmt(res["last_test_score"])}</td></tr>
<tr><td>best ({e(res.get("select", "best"))} rule)</td><td>{_fmt(res["best_train_score"])}</td><td>{_fmt(res["best_test_score"])}</td></tr>
{_selection_rows(res)}</table>
<h2>Score of every candidate</h2>{_scatter(cands)}
<h2>Best so far</h2>{_best_curve(cands, s["n_train"])}
<h2>Initial vs best prompt</h2><p class="diff">{_diff(res["initial_prompt"], res["best_prompt"]) if res["initial_prompt"] != res["best_prompt"] else "No prompt beat the initial one on the training set: " + e(res["initial_prompt"])}</p>
{section}
<h2>Usage</h2><table id="usage"><tr><th>role</th><th>requests</th><th>calls</th><th>cache hits</th>
<th>prompt tokens</th><th>completion tokens</th><th>length stops</th><th>cost $</th></tr>
{_usage_rows(data["usage"])}</table>
<h2>All prompts</h2><table id="candidates"><tr><th>#</th><th>iteration</th><th>origin</th>
<th>train</th><th>text</th></tr>{rows}</table>
</body></html>
"""


def write_report(run_dir: str | Path) -> Path:
    path = Path(run_dir) / "report.html"
    path.write_text(render_report(run_dir), encoding="utf-8")
    return path
