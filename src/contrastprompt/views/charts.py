"""Small SVG charts shared by the bench page and the adapt page (views draw data; they compute
nothing)."""

from __future__ import annotations

import html
import math

PALETTE = ["#e45756", "#4c78a8", "#f58518", "#54a24b", "#b279a2", "#9d755d", "#72b7b2", "#444"]


def svg(label: str, w: int, h: int, pad: int, parts: list[str]) -> str:
    axes = (
        f'<line x1="{pad}" y1="{h - pad}" x2="{w - pad}" y2="{h - pad}" stroke="#333"/>'
        f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{h - pad}" stroke="#333"/>'
    )
    ticks = "".join(
        f'<text x="{pad - 4}" y="{h - pad - v * (h - 2 * pad) + 4:.1f}" font-size="10" '
        f'text-anchor="end">{v:.1f}</text>'
        for v in (0, 0.5, 1.0)
    )
    return (
        f'<svg width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" '
        f'aria-label="{html.escape(label)}">{axes}{ticks}{"".join(parts)}</svg>'
    )


def bars(task: str, ms: dict, methods: list[str], w: int = 520, h: int = 220) -> str:
    pad, names = 40, [m for m in methods if m in ms]
    bw = (w - 2 * pad) / max(len(names), 1)
    parts = []
    for i, m in enumerate(names):
        mean, lo, hi = ms[m]["best"]
        if math.isnan(mean):
            continue
        x = pad + i * bw
        y = h - pad - mean * (h - 2 * pad)
        parts.append(
            f'<rect class="bar" data-method="{m}" x="{x + 4:.1f}" y="{y:.1f}" '
            f'width="{bw - 8:.1f}" height="{h - pad - y:.1f}" fill="{PALETTE[i % 8]}">'
            f"<title>{m}: {100 * mean:.1f}%</title></rect>"
            f'<text x="{x + bw / 2:.1f}" y="{h - pad + 14}" font-size="11" '
            f'text-anchor="middle">{m}</text>'
        )
        if not math.isnan(lo):
            y1, y2 = (h - pad - v * (h - 2 * pad) for v in (lo, hi))
            parts.append(
                f'<line x1="{x + bw / 2:.1f}" x2="{x + bw / 2:.1f}" y1="{y1:.1f}" y2="{y2:.1f}" '
                'stroke="#000"/>'
            )
    return svg(task + " test accuracy", w, h, pad, parts)


def scatter(cands: list[dict], colors: dict[str, str], w: int = 640, h: int = 300) -> str:
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
            f'cx="{x:.1f}" cy="{y:.1f}" r="5" fill="{colors.get(c["origin"], "#999")}" '
            f'fill-opacity="0.8"><title>{tip}</title></circle>'
        )
    frame = axes(
        w,
        h,
        pad,
        [(pad + (i + 0.5) / (iters + 1) * (w - 2 * pad), str(i)) for i in range(iters + 1)],
        "iteration",
    )
    legend = "".join(
        f'<text x="{w - 150}" y="{20 + 14 * i}" fill="{col}" font-size="12">● {o}</text>'
        for i, (o, col) in enumerate(colors.items())
    )
    return (
        f'<svg id="scores" width="{w}" height="{h}" viewBox="0 0 {w} {h}" role="img" '
        f'aria-label="train score per candidate">{frame}{legend}{"".join(marks)}</svg>'
    )


def axes(w: int, h: int, pad: int, xticks: list[tuple[float, str]], xlabel: str) -> str:
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


def best_curve(cands: list[dict], n_train: int, w: int = 640, h: int = 300) -> str:
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
        f'aria-label="best so far">{axes(w, h, pad, ticks, "task-model requests (train)")}'
        f'<polyline points="{path}" fill="none" stroke="#54a24b" stroke-width="2"/>{dots}'
        "</svg>"
    )


def curves(task: str, ms: dict, methods: list[str], w: int = 520, h: int = 220) -> str:
    pad = 40
    xmax = max((p[0] for m in ms.values() for cv in m["curves"] for p in cv), default=1) or 1
    parts = []
    for i, m in enumerate(methods):
        if m not in ms:
            continue
        for cv in ms[m]["curves"]:
            pts = " ".join(
                f"{pad + x / xmax * (w - 2 * pad):.1f},{h - pad - y * (h - 2 * pad):.1f}"
                for x, y in cv
            )
            parts.append(
                f'<polyline class="curve" data-method="{m}" points="{pts}" fill="none" '
                f'stroke="{PALETTE[i % 8]}" stroke-width="2"><title>{m}</title></polyline>'
            )
    parts.append(
        f'<text x="{w / 2}" y="{h - 6}" font-size="11" text-anchor="middle">'
        f"task requests (0–{xmax:.0f})</text>"
    )
    return svg(task + " best-so-far train score", w, h, pad, parts)


def heat(w: dict, methods: list[str], cell: int = 54) -> str:
    ms = [m for m in methods if m in w]
    size = cell * (len(ms) + 1) + 10
    parts = []
    for i, a in enumerate(ms):
        parts.append(f'<text x="4" y="{cell * (i + 1.6):.0f}" font-size="11">{a}</text>')
        parts.append(
            f'<text x="{cell * (i + 1.2):.0f}" y="{cell * 0.6:.0f}" font-size="11">{a}</text>'
        )
        for j, b in enumerate(ms):
            v = w[a].get(b)
            if v is None:
                continue
            red, blue = int(255 * (1 - v)), int(255 * v)
            parts.append(
                f'<rect class="heat" x="{cell * (j + 1)}" y="{cell * (i + 1)}" width="{cell - 2}" '
                f'height="{cell - 2}" fill="rgb({red},{min(red, blue) + 60},{blue})">'
                f"<title>{a} vs {b}: {100 * v:.0f}%</title></rect>"
                f'<text x="{cell * (j + 1.5)}" y="{cell * (i + 1.6)}" font-size="11" '
                f'text-anchor="middle" fill="#fff">{100 * v:.0f}</text>'
            )
    return (
        f'<svg width="{size}" height="{size}" viewBox="0 0 {size} {size}" role="img" '
        f'aria-label="win rates">{"".join(parts)}</svg>'
    )
