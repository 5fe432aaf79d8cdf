"""The adaptation's outputs: adapt.json, adapt.md and adapt.html for one run, and the transfer
matrix across targets. Laid out from what `adapt()` measured; the only figures made here are the
bootstrap intervals the page draws around each prompt's test accuracy."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Protocol

from ..run.kept import paired_test, test_items
from ..stats import bootstrap_interval
from ..store import prompt_hash
from . import render


class AdaptResult(Protocol):
    """What the view reads of an adaptation's result (`contrastprompt.adapt.AdaptResult`); named
    here so that the view does not import the use case it lays out."""

    run_dir: Path
    mode: str
    rows: list[dict]
    gap_before: float | None
    gap_after: float | None
    source: dict[str, Any]
    recovered: float | None
    efficiency: dict[str, Any]
    scratch_over_as_is: list[float] | None


def result_table(res: AdaptResult) -> str:
    """One run's prompts side by side on the target: test and train accuracy, and what each cost."""
    lines = [
        "| prompt | target test | target train | task requests | optimizer calls |",
        "|---|---|---|---|---|",
    ]
    for r in res.rows:
        test = "–" if r["test"] is None else f"{100 * r['test']:.1f}%"
        lines.append(
            f"| {r['name']} | {test} | {100 * r['train']:.1f}% | {r['task_requests']} | "
            f"{r['optimizer_calls']} |"
        )
    return "\n".join(lines)


# what adapt.json keeps of a result, in this order; `kept_result` reads them back
KEPT = (
    "mode",
    "rows",
    "gap_before",
    "gap_after",
    "source",
    "recovered",
    "efficiency",
    "scratch_over_as_is",
)


def part_dir(res: AdaptResult, row: dict) -> Path:
    """The run dir of a row's prompt: adapt.json keeps it relative to its own folder (an older
    one kept it absolute, which the join leaves as it is)."""
    return Path(res.run_dir) / row["run_dir"]


def kept_result(run_dir: Path) -> SimpleNamespace:
    """A finished adaptation as its adapt.json keeps it, readable as an `AdaptResult` (for the
    matrix over run dirs made by several commands); a key an older adapt.json lacks is None."""
    data = json.loads((run_dir / "adapt.json").read_text(encoding="utf-8"))
    return SimpleNamespace(run_dir=run_dir, **{k: data.get(k) for k in KEPT})


def write_outputs(res: AdaptResult) -> None:
    """adapt.json for programs, adapt.md for the terminal and the docs, adapt.html for a reader:
    the same figures, so what the CLI prints is what the page shows."""
    data = {k: getattr(res, k) for k in KEPT}
    (res.run_dir / "adapt.json").write_text(json.dumps(data, indent=2, ensure_ascii=False))
    head = f"Adaptation ({res.mode}); target test accuracy, side by side.\n"
    lines = [head, result_table(res), ""]
    if res.gap_before is not None:
        lines.append(
            f"Transfer gap against LCP from scratch: before {100 * res.gap_before:+.1f} points "
            f"(source prompt as is), after {100 * (res.gap_after or 0):+.1f} (adapted, best on "
            "train)."
        )
    lines += _efficiency_lines(res)
    s = res.source
    lines.append(
        f"Source side (not in the target budget): {s['requests']} requests, the source prompt "
        f"answered {s['right']} of {s['requests']} training items right on {s['model']}."
    )
    (res.run_dir / "adapt.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (res.run_dir / "adapt.html").write_text(page(res, "\n".join(lines)), encoding="utf-8")


def _efficiency_lines(res: AdaptResult) -> list[str]:
    out = []
    over = res.scratch_over_as_is
    if over is not None:
        out.append(
            f"LCP from scratch against the source prompt as is, paired on the test items: "
            f"{_interval(over)} points" + _gap_verdict(over)
        )
    vs = paired_rows(res, adapted_row(res), scratch_row(res))
    if vs is not None:
        out.append(
            f"Adapted against LCP from scratch, paired on the test items: {_interval(vs)} points."
        )
    if res.recovered is not None:
        out.append(f"Share of the gap recovered: {100 * res.recovered:.0f}%.")
    e = res.efficiency
    if e:
        reach = e["adapted_to_reach"]
        out.append(
            f"LCP from scratch ended at {100 * e['scratch_train']:.1f}% on train after "
            f"{e['scratch_requests']} task requests; the adapted run "
            + (
                f"reached it after {reach:.0f} ({reach / max(e['scratch_requests'], 1):.2f} of "
                "that)."
                if reach is not None
                else f"never reached it ({e['adapted_requests']} task requests in all)."
            )
        )
    return out


def short_name(row_name: str) -> str:
    """A bar label: 'as is', 'adapted', 'adapted-sw, last', 'scratch'."""
    name = row_name.replace(" (best on train)", "").replace(" (last)", ", last")
    return {"source prompt as is": "as is", "LCP from scratch": "scratch"}.get(name, name)


def page(res: AdaptResult, table_md: str) -> str:
    """adapt.html: the compared prompts' target test accuracy as bars with bootstrap intervals
    over the test items, the table, and links to each part's own run report."""
    shown: dict[str, dict] = {}
    for r in res.rows:
        items = test_items(part_dir(res, r), [r["prompt"]]).get(prompt_hash(r["prompt"]), {})
        if items:
            shown[short_name(r["name"])] = {"best": bootstrap_interval(list(items.values()))}
    parts = sorted({part_dir(res, r) for r in res.rows})
    links = [
        (p.name, f"{p.relative_to(res.run_dir)}/report.html")
        for p in parts
        if p.is_relative_to(res.run_dir)
    ]
    return render("adapt.html.j2", mode=res.mode, shown=shown, links=links, table_md=table_md)


def _gap_verdict(over: list[float]) -> str:
    """What a paired interval of from scratch minus as is says about a gap to recover."""
    if over[1] > 0:
        return ": a gap."
    if over[2] < 0:
        return ": from scratch ends below the carried prompt, so there is no gap to recover."
    return ": no gap beyond noise, so no share recovered."


def paired_rows(res: AdaptResult, a: dict, b: dict | None) -> list[float] | None:
    """Row `a` minus row `b` of `res` on the target's test items, paired: whether adapting beat
    starting over is a paired question like the gap itself. None without `b` or per-item
    scores."""
    if b is None:
        return None
    return paired_test((part_dir(res, a), a["prompt"]), (part_dir(res, b), b["prompt"]))


SCRATCH = "LCP from scratch (best on train)"


def scratch_row(res: AdaptResult) -> dict | None:
    """LCP from scratch's best-on-train row, if the adaptation ran one."""
    return next((r for r in res.rows if r["name"] == SCRATCH), None)


def adapted_row(res: AdaptResult) -> dict:
    """The adapted run's best-on-train row (with several adapted runs, the plain one, else the
    first): the row the gap after and the share recovered are measured on."""
    rows = {r["name"]: r for r in res.rows}
    return rows.get("adapted (best on train)") or next(
        r for r in res.rows if r["name"].startswith("adapted")
    )


def _interval(v: list[float] | None) -> str:
    """A paired difference as '+0.5 (−4.0, +5.0)', in points."""
    if v is None:
        return "–"
    m, lo, hi = (100 * x for x in v)
    return f"{m:+.1f} ({lo:+.1f}, {hi:+.1f})"


def _reach(e: dict) -> str:
    if not e:
        return "–"
    if e["adapted_to_reach"] is None:
        return "never"
    return f"{e['adapted_to_reach']:.0f}"


def matrix(entries: list[tuple[str, AdaptResult]], spread: bool = False) -> str:
    """The transfer matrix of one source prompt across targets: source prompt as is, adapted
    (best on train), LCP from scratch, the gaps, and the target-side calls; with `spread`, the
    range of accuracy across the targets (languages) before and after adaptation."""

    def pct(v: float | None) -> str:
        return "–" if v is None else f"{100 * v:.1f}%"

    def pts(v: float | None) -> str:
        return "–" if v is None else f"{100 * v:+.1f}"

    lines = [
        "| target | source prompt as is | adapted | from scratch | scratch − as is (95%) | "
        "adapted − scratch (95%) | gap before | gap after | gap recovered | "
        "adapted req to scratch's train score | task req adapted / scratch | "
        "optimizer calls adapted / scratch | source req |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    before, after = [], []
    for name, res in entries:
        rows = {r["name"]: r for r in res.rows}
        as_is = rows["source prompt as is"]
        ad = adapted_row(res)
        sc = scratch_row(res)
        before.append(as_is["test"])
        after.append(ad["test"])
        lines.append(
            f"| {name} | {pct(as_is['test'])} | {pct(ad['test'])} | "
            f"{pct(sc['test'] if sc else None)} | {_interval(res.scratch_over_as_is)} | "
            f"{_interval(paired_rows(res, ad, sc))} | "
            f"{pts(res.gap_before)} | {pts(res.gap_after)} | "
            f"{pct(res.recovered)} | {_reach(res.efficiency)} | "
            f"{ad['task_requests']} / {sc['task_requests'] if sc else '–'} | "
            f"{ad['optimizer_calls']} / {sc['optimizer_calls'] if sc else '–'} | "
            f"{res.source['requests']} |"
        )
    if spread and len(entries) > 1:
        b = [v for v in before if v is not None]
        a = [v for v in after if v is not None]
        lines.append(
            f"\nSpread across targets (max − min): source prompt as is "
            f"{100 * (max(b) - min(b)):.1f} points, adapted {100 * (max(a) - min(a)):.1f} points."
        )
    return "\n".join(lines)
