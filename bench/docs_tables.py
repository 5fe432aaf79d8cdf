"""Write the measured tables of the benchmark pages (docs/benchmarks/) from the bench's outputs.

    python bench/docs_tables.py           # rewrite every marked table in place
    python bench/docs_tables.py --check   # exit 1 if a table in the docs differs from its source

Each table in a page of docs/benchmarks/ (and docs/dspy.md) sits between `<!-- NAME -->` and
`<!-- /NAME -->`; its content is generated from a file the bench wrote (bench.md, matrix.md or
probe.md under bench/results/, themselves rebuilt from the committed run.json and cell.json
files), so a marked table never carries a figure typed by hand. A bench table loses its legend
paragraph (the docs explain the columns) and its headings move down two levels under the docs'
own.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PAGES = sorted((REPO / "docs" / "benchmarks").glob("*.md")) + [REPO / "docs" / "dspy.md"]
SOURCES = {
    "bench-table": "bench/results/bbh_winrate_quick/bench.md",
    "tickets-table": "bench/results/tickets_quick/bench.md",
    "adapt-table": "bench/results/adapt_xcopa/matrix.md",
    "models-table": "bench/results/adapt_models/matrix.md",
    "public-table": "bench/results/public/bench.md",
    "task-models-table": "bench/results/task_models.md",
    "adapt-sib-probe": "bench/results/adapt_sib/probe.md",
    "adapt-sib-matrix": "bench/results/adapt_sib/matrix.md",
    "adapt-pairs-matrix": "bench/results/adapt_pairs/matrix.md",
    "adapt-pairs-800-matrix": "bench/results/adapt_pairs_800/matrix.md",
    "adapt-pairs-half-matrix": "bench/results/adapt_pairs_half/matrix.md",
    "adapt-pairs-half-read-matrix": "bench/results/adapt_pairs_half_read/matrix.md",
    "dspy-table": "bench/results/dspy/bench.md",
}


def table(path: Path) -> str:
    """The part of a bench output that goes into the docs."""
    lines = path.read_text(encoding="utf-8").strip().splitlines()
    out = []
    for line in lines:
        if line.startswith(("Profile `", "`python ", "Every finished run under", "# ")):
            continue  # the legend, the command line or the title: the docs give them in prose
        out.append(re.sub(r"^### ", "##### ", line))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()


def render(docs: str) -> str:
    for name, source in SOURCES.items():
        pattern = re.compile(rf"<!-- {name} -->\n(.*?)\n?<!-- /{name} -->", re.S)
        if not pattern.search(docs) or not (REPO / source).is_file():
            continue
        body = table(REPO / source)
        docs = pattern.sub(lambda m, b=body, n=name: f"<!-- {n} -->\n{b}\n<!-- /{n} -->", docs)
    return docs


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true")
    a = ap.parse_args()
    stale = []
    for page in PAGES:
        now = page.read_text(encoding="utf-8")
        new = render(now)
        if new == now:
            continue
        stale.append(page.relative_to(REPO).as_posix())
        if not a.check:
            page.write_text(new, encoding="utf-8")
    if a.check and stale:
        print(f"{', '.join(stale)} differ from the bench outputs: run bench/docs_tables.py")
        sys.exit(1)
