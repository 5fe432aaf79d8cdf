"""Rebuild the tables of the one-split public bench (bench/results/public) from its committed
run.json and cell.json files, with the bench's current statistics; nothing runs.

    python bench/public_tables.py

That bench (TREC, Subj, SIB-200 English; 3 seeds on split seed 0; 300 task requests and 20
optimizer calls a run) compared LCP options that are no longer LCP settings, so `contrastprompt
bench --tables-only` refuses its method list; its configuration stands here, as bench.json
records it, and the tables are written by the same code (`bench_report.rebuild`).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from contrastprompt.bench import BenchConfig, Profile
from contrastprompt.bench_report import rebuild

ROOT = Path(__file__).resolve().parents[1] / "bench/results/public"
TASKS = ["cls:trec", "cls:subj", "sib:eng_Latn"]
# as the bench ran them: `@` limits an option to some seeds
METHODS = (
    "lcp,apo,opro,autohint,ape,gepa,cot,initial,lcp+reasons_per_call=5@0,"
    "lcp+reasons_per_call=5+screen=10@0,lcp+reasons_with_questions=true@0/1,"
    "lcp+failure_sampling=by_label+reasons_with_questions=true,"
    "lcp+failure_sampling=by_label+reasons_per_call=5+reasons_with_questions=true+screen=10,"
    "lcp+state_labels=true"
)


def config() -> BenchConfig:
    """The bench's configuration, from the bench.json it wrote and the method list above."""
    kept = json.loads((ROOT / "bench.json").read_text(encoding="utf-8"))
    names, only = [], {}
    for spec in METHODS.split(","):
        name, at, seeds = spec.partition("@")
        names.append(name)
        if at:
            only[name] = [int(s) for s in seeds.split("/")]
    return BenchConfig(
        tasks=TASKS,
        methods=names,
        seeds=kept["seeds"],
        root=ROOT,
        profile=Profile(**kept["profile"]),
        model=kept["model"],
        split_seed=kept["split_seed"],
        prompt="Classify the input.",
        reference=kept["reference"],
        only_seeds=only,
    )


if __name__ == "__main__":
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()  # --help only
    _, partial = rebuild(config())
    print(f"wrote {ROOT}/bench.md, bench.json, bench.html" + (" (partial)" if partial else ""))
