"""What the optimizer model wrote in finished LCP run dirs: parse rate and instruction share.

Reads each run's store (no model is called):
  - optimizer answers: every optimizer request that reached the model (retries included);
  - usable: answers that gave a reason, a candidate or a contrast prompt (a candidate identical
    to one already in the pool counts as usable: it parsed);
  - parse rate = usable / answers;
  - instruction share: written prompts (candidates and contrast prompts) that are instructions
    for the task rather than requests for more information (a regex check; `--show` prints every
    prompt so a reader can judge).

    python bench/optimizer_output.py bench/out/lcp15/*-s0 [--show]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from judge import is_instruction

from contrastprompt.store import Store


def analyse(run: Path) -> dict:
    store = Store(run / "store.sqlite")
    run_id = store.find_run("optimize")["id"]
    answers = store.call_totals(run_id).get("optimizer", {}).get("calls", 0)
    events = [(e["kind"], e["data"]) for e in store.events(run_id)]
    reasons = sum(len(d.get("reasons", [])) for k, d in events if k == "reasons")
    dup = sum(1 for k, _ in events if k == "duplicate")
    written = [p["text"] for p in store.prompts(run_id) if p["origin"] in ("candidate", "contrast")]
    store.close()
    skipped = sum(1 for k, _ in events if k == "skipped")
    usable = reasons + len(written) + dup
    instr = [t for t in written if is_instruction(t)]
    return {
        "run": run.name,
        "answers": answers,
        "usable": usable,
        "skipped": skipped,
        "written": len(written),
        "instructions": len(instr),
        "prompts": written,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--show", action="store_true", help="print every written prompt")
    a = ap.parse_args()
    rows = [analyse(r) for r in a.runs if (r / "store.sqlite").is_file()]
    print(f"{'run':36} {'answers':>8} {'usable':>7} {'skipped':>8} {'written':>8} {'instr':>6}")
    for r in rows:
        print(
            f"{r['run']:36} {r['answers']:>8} {r['usable']:>7} {r['skipped']:>8} "
            f"{r['written']:>8} {r['instructions']:>6}"
        )
        if a.show:
            for p in r["prompts"]:
                print("    -", p.replace("\n", " ")[:300])
    ans = sum(r["answers"] for r in rows)
    use = sum(r["usable"] for r in rows)
    wr = sum(r["written"] for r in rows)
    ins = sum(r["instructions"] for r in rows)
    print(
        f"parse rate {use}/{ans} = {use / max(ans, 1):.0%}; "
        f"instruction share {ins}/{wr} = {ins / max(wr, 1):.0%}"
    )


if __name__ == "__main__":
    main()
