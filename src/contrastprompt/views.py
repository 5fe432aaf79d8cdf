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
