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
    Runs,
    bootstrap_interval,
    detectable_difference,
    headline,
    mean_interval,
    paired_difference,
    paired_units,
    pooled_sd,
    requests_to_reach,
    stratified_mean,
    win_rate_intervals,
    win_rates,
    within_noise,
)
from .views import render

WHICH = ("best", "last")
RESAMPLES, BOOT_SEED = 2000, 0  # the win-rate bootstrap over seeds: fixed, so tables repeat


def summarize(rows: list[dict], methods: list[str], reference: str = "lcp") -> dict[str, Any]:
    """Per task and method: mean test accuracy with its interval (Student t over seeds;
    bootstrap over test items when there is one seed), the runs that collapsed below the
    majority share, costs, the reference method's difference to each other method paired by
    seed (and, secondary, on the pooled test items), the task requests each needed to reach the
    best other optimizer's final training score; over all tasks, the same means and
    differences; the smallest difference the seeds can detect; and the win rates with an
    interval from resampling the seeds."""
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
                    c["reference_minus"] = _versus(ref, _paired_rows(ref, by[(task, m)], m))
        _efficiency(ms, reference)
    runs = {w: _runs(by, w) for w in WHICH}
    rates = {w: _win_rates(cells, runs[w], methods, reference, w) for w in WHICH}
    majority = {r["task"]: r["majority"] for r in rows if r.get("majority")}
    return {
        "cells": cells,
        "win_rates": rates,
        "majority": majority,
        "reference": reference,
        "pooled": _pooled(by, cells),
        "detectable": _detectable(cells, reference),
    }


def _values(rs: list[dict], which: str) -> dict[int, float]:
    """Test accuracy of the best-on-train or last prompt, per seed."""
    return {r["seed"]: r[f"{which}_test"] for r in rs if r.get(f"{which}_test") is not None}


def _paired_rows(ref: list[dict], other: list[dict], method: str) -> list[dict]:
    """Another method's runs to pair with the reference's: a fixed prompt run once (on one
    split) stands for every seed it was not run on; it answers greedily, so another seed on the
    same split would repeat it."""
    if base_name(method) not in fixed() or len(other) != 1:
        return other
    return [{**other[0], "seed": r["seed"]} for r in ref]


def _versus(ref: list[dict], other: list[dict]) -> dict[str, Any]:
    """The reference minus another method on one task: per prompt (best, last), the difference
    paired by seed with its t interval over the seeds and the smallest difference detectable
    at that SD and seed count; secondary, the difference on every seed's test items pooled
    (bootstrap over items: no seed-to-seed variation in it)."""
    out: dict[str, Any] = {"items": {}}
    for which in WHICH:
        d = paired_units(_values(ref, which), _values(other, which))
        if d is not None:
            d["detectable"] = detectable_difference(d["sd"], d["n"])
        out[which] = d
        out["items"][which] = _paired_items(ref, other, which)
    return out


def _paired_items(a: list[dict], b: list[dict], which: str) -> tuple[float, float, float, int]:
    """A minus B on the same test items, pooled over the seeds both ran (keyed by seed and item,
    so each seed's own split pairs with itself)."""
    ia, ib = {}, {}
    for r in a:
        ia.update({(r["seed"], k): v for k, v in r.get(f"{which}_items", {}).items()})
    for r in b:
        ib.update({(r["seed"], k): v for k, v in r.get(f"{which}_items", {}).items()})
    return paired_difference(ia, ib)


def _runs(by: dict[tuple[str, str], list[dict]], which: str) -> Runs:
    """Per method, task and seed, the prompt's test accuracy for the win-rate bootstrap; a
    fixed prompt run once stands for every seed of its task."""
    seeds: dict[str, set] = defaultdict(set)
    for (task, _), rs in by.items():
        seeds[task] |= {r["seed"] for r in rs}
    out: Runs = defaultdict(dict)
    for (task, method), rs in by.items():
        vals = _values(rs, which)
        if len(vals) == 1 and base_name(method) in fixed():
            vals = dict.fromkeys(seeds[task], next(iter(vals.values())))
        if vals:
            out[method][task] = vals
    return dict(out)


def _win_rates(
    cells: dict, runs: Runs, methods: list[str], reference: str, which: str
) -> dict[str, Any]:
    """The win-rate matrix of one prompt (per task mean against mean), the reference's
    headlines, and each headline's 95% interval from resampling the seeds."""
    scores = {
        m: {t: cells[t][m][which][0] for t in cells if m in cells[t]}
        for m in methods
        if any(m in cells[t] for t in cells)
    }
    r = win_rates(scores)
    opponents = [m for m in optimizing() if m in scores]
    rivals = [o for o in opponents if o != reference]
    # the reference with options beyond its defaults, against the same opponents
    variants = [m for m in scores if m.startswith(reference + "+")]
    asked = {
        "vs_optimizers": (reference, opponents),
        "vs_fixed": (reference, [m for m in fixed() if m in scores]),
        **{f"variant {m}": (m, rivals) for m in variants},
    }
    ci = win_rate_intervals(
        {m: ts for m, ts in runs.items() if m in scores},
        asked,
        resamples=RESAMPLES,
        seed=BOOT_SEED,
    )
    return {
        "matrix": r,
        "vs_optimizers": headline(r, reference, opponents),
        "vs_fixed": headline(r, reference, asked["vs_fixed"][1]),
        "variants": {m: headline(r, m, rivals) for m in variants},
        "intervals": {
            "vs_optimizers": ci["vs_optimizers"],
            "vs_fixed": ci["vs_fixed"],
            "variants": {m: ci[f"variant {m}"] for m in variants},
        },
    }


def _pooled(by: dict[tuple[str, str], list[dict]], cells: dict) -> dict[str, dict]:
    """Each method over all tasks: its mean over the (task, seed) runs, the reference minus it
    paired by seed within each task (`stratified_mean`: t interval from the within-task SD,
    df = runs − tasks), and its collapsed runs."""
    out: dict[str, dict] = {}
    for m in dict.fromkeys(m for ms in cells.values() for m in ms):
        tasks = [t for t in cells if m in cells[t]]
        row: dict[str, Any] = {"tasks": len(tasks), "reference_minus": {}}
        for which in WHICH:
            per_task = {t: list(_values(by[(t, m)], which).values()) for t in tasks}
            row[which] = stratified_mean(per_task, bounds=(0.0, 1.0))
            diffs = {
                t: list(d["per_seed"].values())
                for t in tasks
                if (d := (cells[t][m].get("reference_minus") or {}).get(which))
            }
            if diffs:
                row["reference_minus"][which] = stratified_mean(diffs)
        row["runs"] = row["best"]["n"]
        col = [cells[t][m]["collapsed"] for t in tasks]
        row["collapsed"] = {k: _total([c[k] for c in col]) for k in ("best", "last", "runs")}
        out[m] = row
    return out


def _total(counts: list[int | None]) -> int | None:
    return None if any(c is None for c in counts) else sum(c for c in counts if c is not None)


def _detectable(cells: dict, reference: str) -> dict[str, Any]:
    """The smallest difference (80% power, α = 0.05, two-sided paired t) each table can detect:
    per task at the reference's seed count, over all tasks at its number of (task, seed) runs
    (df = runs − tasks), from the SD of the paired differences to the other optimizers (fixed
    prompts left out: their one run does not vary), pooled over those comparisons."""
    out: dict[str, Any] = {"tasks": {}, "pooled": {}}
    groups: dict[str, list[list[float]]] = {w: [] for w in WHICH}
    units = 0
    for task, ms in cells.items():
        if reference not in ms:
            continue
        n = len(ms[reference]["seeds"])
        units += n
        out["tasks"][task] = {}
        for which in WHICH:
            per = [
                list(d["per_seed"].values())
                for m, c in ms.items()
                if base_name(m) not in fixed()
                and (d := (c.get("reference_minus") or {}).get(which))
            ]
            groups[which] += per
            out["tasks"][task][which] = _mde(per, n, n - 1)
    for which in WHICH:
        out["pooled"][which] = _mde(groups[which], units, units - len(out["tasks"]))
    return out


def _mde(diffs: list[list[float]], n: int, df: int) -> dict[str, Any]:
    """The detectable difference at `n` pairs and `df` degrees of freedom, from the SD of the
    paired differences pooled over the comparisons (`pooled_sd`)."""
    sd, sd_df = pooled_sd(diffs)
    delta = detectable_difference(sd, n, df) if sd_df else None
    return {"sd": sd, "sd_df": sd_df, "n": n, "df": df, "compared": len(diffs), "delta": delta}


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
    out: dict[str, Any] = {"seeds": sorted(r["seed"] for r in rs), "interval_over": {}}
    for which in WHICH:
        vals = [r[f"{which}_test"] for r in rs if r[f"{which}_test"] is not None]
        if len(vals) >= 2:
            out[which] = mean_interval(vals, bounds=(0.0, 1.0))
            out["interval_over"][which] = "seeds"
        elif vals:  # one seed: the interval comes from the test items
            out[which] = bootstrap_interval(list(rs[0][f"{which}_items"].values()))
            out["interval_over"][which] = "items"
        else:
            out[which] = (math.nan, math.nan, math.nan)
    out["collapsed"] = _collapsed(rs)
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


def _collapsed(rs: list[dict]) -> dict[str, int | None]:
    """Runs whose prompt (best-on-train, last) scored below the majority share of its own test
    items: worse than answering the most common label to everything. None when a run's tally
    of test labels is not known."""
    shares = [r["majority"][1] if r.get("majority") else None for r in rs]
    out: dict[str, int | None] = {"runs": len(rs)}
    for which in WHICH:
        pairs = [(r.get(f"{which}_test"), s) for r, s in zip(rs, shares, strict=True)]
        known = all(s is not None for _, s in pairs)
        out[which] = sum(1 for v, s in pairs if v is not None and v < s) if known else None
    return out


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
        + ". To the bar: task requests a method had spent when its best "
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


def _reading(ref: str) -> str:
    """What the intervals are over: stated in the tables, so a table quoted without the legend
    still says it."""
    return (
        "Every interval is 95%. Seed level (primary): a method's accuracy is its mean over the "
        "runs in the seeds column, with a Student t interval over those seeds ('items' where it "
        f"ran one seed: a bootstrap over its test items); {ref} − method is the mean of the "
        "differences paired by seed, with a t interval over the pairs, 'noise' when it contains "
        "0; per seed lists those differences. Items (secondary): the same difference with a "
        "bootstrap over the test items of every seed pooled, which leaves out how much runs vary "
        "from seed to seed. Collapsed: runs whose best-on-train / last prompt scored below the "
        "majority share of its test items. Detectable: the smallest difference a two-sided "
        "paired t-test (α = 0.05) detects with 80% power at this seed count, from the SD of the "
        f"paired differences between {ref} and the other optimizers measured here.\n"
    )


def _points(v: float | None) -> str:
    return "–" if v is None or math.isnan(v) else f"{100 * v:.1f}"


def _pct_over(t: tuple | list | None, over: str | None) -> str:
    text = _pct(t)
    return text[:-1] + " items)" if over == "items" and text.endswith(")") else text


def _signed(m: float, lo: float, hi: float) -> str:
    """A difference in points with its interval and whether it is within noise."""
    if math.isnan(lo):
        return f"{100 * m:+.1f}"
    noise = " noise" if within_noise(lo, hi) else ""
    return f"{100 * m:+.1f} ({100 * lo:+.0f}, {100 * hi:+.0f}){noise}"


def _diff(d: dict | None) -> str:
    return "–" if not d else _signed(d["mean"], d["lo"], d["hi"])


def _per_seed(d: dict | None) -> str:
    if not d:
        return "–"
    return ", ".join(f"s{s} {100 * v:+.1f}" for s, v in d["per_seed"].items())


def _collapsed_text(c: dict | None) -> str:
    if not c or c.get("best") is None or c.get("last") is None:
        return "–"
    return f"{c['best']} / {c['last']} of {c['runs']}"


def _detectable_sentence(det: dict, ref: str, where: str) -> str:
    """The smallest detectable difference of one table, best-on-train and last."""
    b, last = det["best"], det["last"]
    if b["delta"] is None:
        return f"\nDetectable{where}: no estimate (fewer than two seeds paired with {ref})."
    return (
        f"\nDetectable{where} at {b['n']} runs of {ref} ({b['df']} degrees of freedom): "
        f"{_points(b['delta'])} points for best-on-train prompts (SD of the paired differences "
        f"{_points(b['sd'])} points, pooled over {b['compared']} comparisons), "
        f"{_points(last['delta'])} for last prompts (SD {_points(last['sd'])})."
    )


def _task_table(task: str, ms: dict, summary: dict, cfg: BenchConfig, ref: str) -> list[str]:
    """One task's table: accuracy, collapsed runs and the seed-level differences first, the
    item-level difference beside them, then what each method spent."""
    lines = [f"### {task}\n"]
    if task in summary.get("majority", {}):
        answer, share = summary["majority"][task]
        lines.append(
            f"Most common answer among the test items: {answer!r}, {100 * share:.1f}%; a "
            "prompt that only makes the model give it every time scores that.\n"
        )
    lines += [
        "| method | seeds | best-on-train | its train score | its top answer | last | "
        f"collapsed | {ref} − method | per seed | {ref} − method, last | items: {ref} − method | "
        "task req | to the bar | prompts scored | optimizer calls / tokens | prompt chars | "
        "wall min | stopped |",
        "|---" * 18 + "|",
    ]
    for m in cfg.methods:
        if m not in ms:
            continue
        c = ms[m]
        vs = c.get("reference_minus") or {}
        over = c.get("interval_over", {})
        items = (vs.get("items") or {}).get("best")
        wall = f"{c['wall_s'] / 60:.1f}" if c["wall_s"] else "–"
        lines.append(
            f"| {m} | {len(c['seeds'])} | {_pct_over(c['best'], over.get('best'))} | "
            f"{_pct1(c['best_train'])} | {top_answer(c['answers'])} | "
            f"{_pct_over(c['last'], over.get('last'))} | {_collapsed_text(c.get('collapsed'))} | "
            f"{_diff(vs.get('best'))} | {_per_seed(vs.get('best'))} | {_diff(vs.get('last'))} | "
            f"{_signed(*items[:3]) if items else '–'} | "
            f"{c['task_requests']:.0f} | {_to_bar(c)} | {c['prompts_scored']:.0f} | "
            f"{c['optimizer_calls']:.0f} / {c['optimizer_tokens']:,.0f} | "
            f"{c['prompt_chars']:.0f} | {wall} | {'; '.join(c['stop_reasons'])[:60]} |"
        )
    bar = next((c["bar"] for c in ms.values() if c.get("bar")), None)
    if bar:
        lines.append(_bar_sentence(bar, ms, ref))
    det = summary.get("detectable", {}).get("tasks", {}).get(task)
    if det:
        lines.append(_detectable_sentence(det, ref, ""))
    lines.append("")
    return lines


def _pooled_table(summary: dict, cfg: BenchConfig, ref: str) -> list[str]:
    """Every method over all tasks, at the seed level."""
    pooled = summary.get("pooled", {})
    lines = [
        "### Over all tasks\n",
        f"| method | runs (tasks) | best-on-train | {ref} − method | last | "
        f"{ref} − method, last | collapsed |",
        "|---" * 7 + "|",
    ]
    for m in cfg.methods:
        if m not in pooled:
            continue
        p = pooled[m]
        vs = p["reference_minus"]
        best, last = (p[w] for w in WHICH)
        lines.append(
            f"| {m} | {p['runs']} ({p['tasks']}) | {_pct((best['mean'], best['lo'], best['hi']))} "
            f"| {_diff(vs.get('best'))} | {_pct((last['mean'], last['lo'], last['hi']))} | "
            f"{_diff(vs.get('last'))} | {_collapsed_text(p['collapsed'])} |"
        )
    lines.append(
        "\nOver all tasks: the mean over every (task, seed) run, with a Student t interval from "
        "the SD within tasks pooled over the tasks (degrees of freedom: runs − tasks); "
        f"{ref} − method pairs runs by seed within a task only (seed s of one task shares no "
        "split with seed s of another)."
    )
    det = summary.get("detectable", {}).get("pooled")
    if det:
        lines.append(_detectable_sentence(det, ref, " over all tasks"))
    lines.append("")
    return lines


def _share(v: float | None, ci: tuple | list | None) -> str:
    if v is None:
        return "–"
    return f"{100 * v:.0f}%" + (f" ({100 * ci[0]:.0f}–{100 * ci[1]:.0f}%)" if ci else "")


def _win_table(which: str, w: dict, cfg: BenchConfig, ref: str) -> list[str]:
    """One prompt's win-rate matrix and the reference's headlines with their intervals."""
    ms = [m for m in cfg.methods if m in w["matrix"]]
    lines = [
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
    ci = w.get("intervals", {})
    opponents = ", ".join(m for m in optimizing() if m != ref and m in ms) or "none run"
    lines.append(
        f"\n{ref} against the optimizers ({opponents}): "
        f"{_share(w['vs_optimizers'], ci.get('vs_optimizers'))}; against fixed prompts: "
        f"{_share(w['vs_fixed'], ci.get('vs_fixed'))}. In brackets: 95% percentile interval "
        f"over {RESAMPLES} draws that resample each task's seeds with replacement (the same "
        f"draw for every method; generator seed {BOOT_SEED}).\n"
    )
    for m, v in w.get("variants", {}).items():
        shown = _share(v, ci.get("variants", {}).get(m))
        lines.append(f"{m} against the same optimizers: {shown}.\n")
    return lines


def markdown(summary: dict, cfg: BenchConfig, partial: bool, header: str = "") -> str:
    """bench.md: the legend, one table per task, the table over all tasks, the win rates."""
    ref = summary.get("reference", "lcp")
    lines = []
    if partial:
        lines.append("**PARTIAL**: not every (task, method, seed) has finished.\n")
    lines.append(header)
    lines.append(_legend(cfg, ref))
    lines.append(_reading(ref))
    for task, ms in summary["cells"].items():
        lines += _task_table(task, ms, summary, cfg, ref)
    lines += _pooled_table(summary, cfg, ref)
    for which in WHICH:
        lines += _win_table(which, summary["win_rates"][which], cfg, ref)
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
        "pooled": summary["pooled"],
        "detectable": summary["detectable"],
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
