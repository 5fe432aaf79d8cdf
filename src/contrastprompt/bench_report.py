"""The bench's tables (Markdown, JSON) and page (self-contained HTML, inline SVG): accuracy with
intervals per task and method, costs, paired differences against LCP, and win rates."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from .bench import BenchConfig, most_common
from .llm import default_optimizer_model, model_name
from .optimizers import base_name, fixed, optimizing
from .stats import (
    bootstrap_interval,
    headline,
    mean_interval,
    paired_difference,
    requests_to_reach,
    win_rates,
    within_noise,
)
from .views import render


def summarize(rows: list[dict], methods: list[str], reference: str = "lcp") -> dict[str, Any]:
    """Per task and method: mean test accuracy with its interval (over seeds; bootstrap over test
    items when there is one seed), costs, the paired difference of the reference method to each
    other, the task requests each needed to reach the best other optimizer's final training
    score, and the win rates."""
    by: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for r in rows:
        by[(r["task"], r["method"])].append(r)
    cells: dict[str, dict[str, dict]] = defaultdict(dict)
    for (task, method), rs in by.items():
        cells[task][method] = _cell_stats(rs)
    for task, ms in cells.items():
        if reference in ms:
            ref = by[(task, reference)]
            for m, c in ms.items():
                if m != reference:
                    other = by[(task, m)]
                    if base_name(m) in fixed() and len(other) == 1:  # one split: one run
                        other = [{**other[0], "seed": r["seed"]} for r in ref]
                    c["reference_minus"] = _paired(ref, other)
        _efficiency(ms, reference)
    rates = {}
    for which in ("best", "last"):
        scores = {
            m: {t: cells[t][m][which][0] for t in cells if m in cells[t]}
            for m in methods
            if any(m in cells[t] for t in cells)
        }
        r = win_rates(scores)
        opponents = [m for m in optimizing() if m in scores]
        rates[which] = {
            "matrix": r,
            "vs_optimizers": headline(r, reference, opponents),
            "vs_fixed": headline(r, reference, [m for m in fixed() if m in scores]),
            # the reference with options beyond its defaults, against the same opponents
            "variants": {
                m: headline(r, m, [o for o in opponents if o != reference])
                for m in scores
                if m.startswith(reference + "+")
            },
        }
    majority = {r["task"]: r["majority"] for r in rows if r.get("majority")}
    return {"cells": cells, "win_rates": rates, "majority": majority, "reference": reference}


def _efficiency(ms: dict[str, dict], reference: str) -> None:
    """The efficiency measure: the best final training score among the optimizers other than
    the reference (the bar), and for each method the task requests it needed to reach that bar,
    per seed (None where a seed never reached it)."""
    others = [m for m in ms if m != reference and m in optimizing() and ms[m]["best_train"]]
    if not others:
        return
    bar_method = max(others, key=lambda m: ms[m]["best_train"])
    bar = ms[bar_method]["best_train"]
    for c in ms.values():
        c["bar"] = {"method": bar_method, "train": bar}
        c["to_bar"] = [requests_to_reach(cv, bar) for cv in c["curves"]]


def _cell_stats(rs: list[dict]) -> dict[str, Any]:
    out: dict[str, Any] = {"seeds": sorted(r["seed"] for r in rs)}
    for which in ("best", "last"):
        vals = [r[f"{which}_test"] for r in rs if r[f"{which}_test"] is not None]
        if len(vals) >= 2:
            out[which] = mean_interval(vals, bounds=(0.0, 1.0))
        elif vals:  # one seed: the interval comes from the test items
            out[which] = bootstrap_interval(list(rs[0][f"{which}_items"].values()))
        else:
            out[which] = (math.nan, math.nan, math.nan)
    keys = (
        "best_train",
        "task_requests",
        "prompts_scored",
        "optimizer_calls",
        "optimizer_tokens",
        "prompt_chars",
    )
    for k in (*keys, "wall_s"):
        vals = [r[k] for r in rs if r.get(k) is not None]
        out[k] = sum(vals) / len(vals) if vals else None
    answers: dict[str, int] = defaultdict(int)
    for r in rs:
        for a, n in r.get("answers", {}).items():
            answers[a] += n
    out["answers"] = dict(answers)
    out["curves"] = [r["curve"] for r in rs]
    out["stop_reasons"] = sorted({r["stop_reason"] for r in rs})
    out["prompt"] = rs[0]["best_prompt"]
    return out


def _paired(a: list[dict], b: list[dict]) -> tuple[float, float, float, int]:
    """LCP minus another method on the same test items, pooled over the seeds both ran."""
    ia, ib = {}, {}
    for r in a:
        ia.update({(r["seed"], k): v for k, v in r["best_items"].items()})
    for r in b:
        ib.update({(r["seed"], k): v for k, v in r["best_items"].items()})
    return paired_difference(ia, ib)


def top_answer(counts: dict[str, int]) -> str:
    """The answer the model gave most often on test and its share, e.g. 'No 96%' ('none' when
    the replies named no answer): beside the accuracy, it tells a prompt that only moved the
    model's answer bias from one that changed what it answers."""
    top = most_common(counts)
    if top is None:
        return "–"
    answer, share = top
    return f"{answer or 'none'} {100 * share:.0f}%"


def _legend(cfg: BenchConfig, ref: str) -> str:
    """The sizes of the bench and what each column means, above the tables."""
    p = cfg.profile
    opt_model = cfg.optimizer_model or default_optimizer_model(cfg.model)
    return (
        f"Profile `{p.name}`: {p.n_train} training examples, test "
        f"{p.test_limit or 'all remaining'} items, budget {p.budget} task requests per run"
        + (f", at most {p.max_optimizer_calls} optimizer calls" if p.max_optimizer_calls else "")
        + f"; seeds {', '.join(map(str, cfg.seeds))} "
        + ("each on its own split" if cfg.split_seed is None else f"on split seed {cfg.split_seed}")
        + (f" ({p.n_val} validation items held out)" if getattr(p, "n_val", 0) else "")
        + "; task model "
        f"`{model_name(cfg.model)}`, optimizer model `{model_name(opt_model)}`"
        + (f'; every method starts from the prompt "{cfg.prompt}"' if cfg.prompt else "")
        + ". Accuracy: mean "
        "test accuracy with 95% interval (over seeds; bootstrap over test items for one seed). "
        f"{ref} − method: paired difference on the same test items (bootstrap 95% interval); "
        "'noise' when it contains 0. To the bar: task requests a method had spent when its best "
        f"training score first reached the best final training score among the optimizers other "
        f"than {ref} (mean over the seeds that reached it; how many did). Prompts scored: "
        "prompts scored on the whole training set, the pool best-on-train picks from (the more, "
        "the more a pick on few items fits noise).\n"
    )


def _bar_sentence(bar: dict, ms: dict, ref: str) -> str:
    """The efficiency measure in words: the bar, what the reference method spent to reach it,
    and what the method that set it spent in all."""
    text = (
        f"\nThe bar: {bar['method']}'s final training score, {100 * bar['train']:.1f}% (mean "
        "over seeds)."
    )
    reached = [x for x in ms.get(ref, {}).get("to_bar", []) if x is not None]
    total = ms[bar["method"]]["task_requests"]
    if reached and total:
        mean = sum(reached) / len(reached)
        text += (
            f" {ref} reached it after {mean:.0f} task requests (mean over the {len(reached)} "
            f"seeds that did); {bar['method']} spent {total:.0f} in all: {mean / total:.2f} of it."
        )
    return text


def _to_bar(c: dict) -> str:
    reached = [x for x in c.get("to_bar", []) if x is not None]
    if "to_bar" not in c:
        return "–"
    n = len(c["to_bar"])
    return (
        f"{sum(reached) / len(reached):.0f} ({len(reached)}/{n})" if reached else f"never (0/{n})"
    )


def _pct1(v: float | None) -> str:
    return "–" if v is None or math.isnan(v) else f"{100 * v:.1f}%"


def _pct(t: tuple | list | None) -> str:
    if not t or t[0] is None or math.isnan(t[0]):
        return "–"
    m, lo, hi = t[:3]
    if math.isnan(lo):
        return f"{100 * m:.1f}%"
    return f"{100 * m:.1f}% ({100 * lo:.0f}–{100 * hi:.0f})"


def markdown(summary: dict, cfg: BenchConfig, partial: bool, header: str = "") -> str:
    ref = summary.get("reference", "lcp")
    lines = []
    if partial:
        lines.append("**PARTIAL**: not every (task, method, seed) has finished.\n")
    lines.append(header)
    lines.append(_legend(cfg, ref))
    for task, ms in summary["cells"].items():
        lines.append(f"### {task}\n")
        if task in summary.get("majority", {}):
            answer, share = summary["majority"][task]
            lines.append(
                f"Most common answer among the test items: {answer!r}, {100 * share:.1f}%; a "
                "prompt that only makes the model give it every time scores that.\n"
            )
        lines += [
            "| method | best-on-train | its train score | its top answer | last | "
            f"{ref} − method | task req | to the bar | prompts scored | "
            "optimizer calls / tokens | prompt chars | "
            "wall min | stopped |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        bar = next((c["bar"] for c in ms.values() if c.get("bar")), None)
        for m in cfg.methods:
            if m not in ms:
                continue
            c = ms[m]
            diff = c.get("reference_minus")
            d = "–"
            if diff:
                noise = " noise" if within_noise(diff[1], diff[2]) else ""
                d = f"{100 * diff[0]:+.1f} ({100 * diff[1]:+.0f}, {100 * diff[2]:+.0f}){noise}"
            wall = f"{c['wall_s'] / 60:.1f}" if c["wall_s"] else "–"
            lines.append(
                f"| {m} | {_pct(c['best'])} | {_pct1(c['best_train'])} | "
                f"{top_answer(c['answers'])} | {_pct(c['last'])} | {d} | "
                f"{c['task_requests']:.0f} | {_to_bar(c)} | {c['prompts_scored']:.0f} | "
                f"{c['optimizer_calls']:.0f} / "
                f"{c['optimizer_tokens']:,.0f} | {c['prompt_chars']:.0f} | {wall} | "
                f"{'; '.join(c['stop_reasons'])[:60]} |"
            )
        if bar:
            lines.append(_bar_sentence(bar, ms, ref))
        lines.append("")
    for which in ("best", "last"):
        w = summary["win_rates"][which]
        ms = [m for m in cfg.methods if m in w["matrix"]]
        lines += [
            f"### Win rates, {which} prompts (row against column; per task win 1, tie 0.5)\n",
            "| | " + " | ".join(ms) + " |",
            "|---" * (len(ms) + 1) + "|",
        ]
        for a in ms:
            cells = [
                "–" if a == b or b not in w["matrix"][a] else f"{100 * w['matrix'][a][b]:.0f}%"
                for b in ms
            ]
            lines.append(f"| {a} | " + " | ".join(cells) + " |")
        h, f = w["vs_optimizers"], w["vs_fixed"]
        opponents = ", ".join(m for m in optimizing() if m != ref and m in ms) or "none run"
        lines.append(
            f"\n{ref} against the optimizers ({opponents}): "
            f"{'–' if h is None else f'{100 * h:.0f}%'}; against fixed prompts: "
            f"{'–' if f is None else f'{100 * f:.0f}%'}.\n"
        )
        for m, v in w.get("variants", {}).items():
            lines.append(
                f"{m} against the same optimizers: {'–' if v is None else f'{100 * v:.0f}%'}.\n"
            )
    return "\n".join(lines)


def write(summary: dict, cfg: BenchConfig, partial: bool, header: str = "") -> str:
    """bench.md, bench.json and bench.html in the bench root; returns the Markdown."""
    md = markdown(summary, cfg, partial, header)
    root = cfg.root
    (root / "bench.md").write_text(md, encoding="utf-8")
    slim = {
        "partial": partial,
        "profile": cfg.profile.__dict__,
        "model": cfg.model,
        "optimizer_model": cfg.optimizer_model,
        "seeds": cfg.seeds,
        "split_seed": cfg.split_seed,
        "reference": cfg.reference,
        "cells": {
            t: {m: {k: v for k, v in c.items() if k != "curves"} for m, c in ms.items()}
            for t, ms in summary["cells"].items()
        },
        "win_rates": summary["win_rates"],
    }
    (root / "bench.json").write_text(json.dumps(slim, indent=2, default=str), encoding="utf-8")
    (root / "bench.html").write_text(
        render(
            "bench.html.j2",
            summary=summary,
            methods=cfg.methods,
            table_md=md,
            partial=partial,
        ),
        encoding="utf-8",
    )
    return md


def rebuild(cfg: BenchConfig) -> tuple[str, bool]:
    """Tables and page from whatever cells have finished (any time, marked partial)."""
    from .bench import collect

    Path(cfg.root).mkdir(parents=True, exist_ok=True)
    from .bench import provenance_note

    rows, partial = collect(cfg)
    summary = summarize(rows, cfg.methods, cfg.reference)
    return write(summary, cfg, partial, provenance_note(rows)), partial
