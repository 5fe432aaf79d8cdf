"""Language adaptation on SIB-200: one English prompt carried to the other nine languages.

    python bench/adapt_sib.py --probe               # the prompt as is in every language (gaps)
    python bench/adapt_sib.py --dry-run             # what the matrix will cost
    python bench/adapt_sib.py --langs swh_Latn,hin_Deva --seeds 0,1,2

SIB-200 has the same 1,004 sentences and topics in every language (parallel by id), so the source
setting is the same items in English on the same model. `--probe` scores the source prompt on
the same seeded test items in each language (`contrastprompt evaluate`), with Wilson intervals:
a language far below English is where a prompt written for it may recover something. The
matrix runs `contrastprompt.adapt` per language and seed: the source prompt as is, adapted
(failures right in English and wrong in the target; `--prompt-language both`, the default, runs
it twice: new prompts kept in English, and written in the target language), and LCP from scratch
at the same budget from the public bench's start prompt (`--initial-prompt`, "Classify the
input."); run dirs and `matrix.md` (PARTIAL until every run has finished) go to `--out`;
re-running resumes. The source prompt is the best prompt of LCP on sib:eng_Latn in the
public bench (`--prompt-file`), or else a hand-written one that lists the topics. The LCP parts
run LCP's default profile; `--paper` runs them with its paper profile (the committed runs were
made with an earlier LCP, on the paper's reason schedule).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from adapt_kept import finished, lcp_settings, redraw
from public_winrate import PROMPT as START  # the start prompt of every method there

from contrastprompt import evaluate_prompt, load_task
from contrastprompt.adapt import adapt, plan
from contrastprompt.data.task import take
from contrastprompt.stats import wilson_interval
from contrastprompt.views.adapt import matrix

LANGS = "arb_Arab,deu_Latn,fra_Latn,hin_Deva,ind_Latn,por_Latn,spa_Latn,swh_Latn,zho_Hans"
BEST = Path("bench/results/public/sib-eng_Latn/lcp/s0/best_prompt.txt")
FALLBACK = (
    "Classify the topic of the sentence. Answer with one label: science/technology, travel, "
    "politics, sports, health, entertainment or geography."
)
MODEL = "local:qwen2.5-coder-1.5b"
# Seconds a probe request takes, whole run included (model load, non-Latin scripts): measured,
# 600 requests (10 languages x 60 items) in 21 min 51 s on the 2-core AVX2 machine.
PROBE_SECONDS = 2.2


def source_prompt(path: str | None) -> tuple[str, str]:
    p = Path(path) if path else BEST
    if p.is_file():
        return p.read_text(encoding="utf-8").strip(), str(p)
    return FALLBACK, "hand-written (no optimized English prompt yet)"


def probe(prompt: str, langs: list[str], n: int, out: Path) -> None:
    rows = []
    for lang in ["eng_Latn", *langs]:
        task = load_task(f"sib:{lang}")
        items = take(task.split(0)[1], n, seed=0)
        res = evaluate_prompt(prompt, task, model=MODEL, examples=items)
        k = sum(r["correct"] for r in res["records"])
        lo, hi = wilson_interval(k, len(items))
        rows.append({"lang": lang, "accuracy": k / len(items), "ci": [lo, hi], "n": len(items)})
        print(json.dumps(rows[-1]), flush=True)
    eng = rows[0]["accuracy"]
    lines = ["| language | accuracy (95% Wilson) | below English |", "|---|---|---|"]
    for r in rows:
        lo, hi = r["ci"]
        lines.append(
            f"| {r['lang']} | {100 * r['accuracy']:.1f}% ({100 * lo:.0f}–{100 * hi:.0f}) | "
            f"{100 * (eng - r['accuracy']):+.1f} |"
        )
    (out / "probe.json").write_text(json.dumps({"prompt": prompt, "rows": rows}, indent=2))
    (out / "probe.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


def print_probe_plan(langs: list[str], n: int) -> None:
    """`--probe --dry-run`: what the probe costs, before it takes the machine."""
    requests = (1 + len(langs)) * n
    print(
        f"probe: {1 + len(langs)} languages x {n} items = {requests} task requests: "
        f"~{requests * PROBE_SECONDS / 60:.0f} min"
    )


def lang_label(run_dir_name: str) -> str:
    """A matrix row's name from its run dir: 'swh_Latn-s0' -> 'swh_Latn s0'."""
    return run_dir_name.replace("-s", " s")


def run_matrix(prompt: str, langs: list[str], seeds: list[int], a: argparse.Namespace) -> None:
    entries, total = [], len(langs) * len(seeds)
    for seed in seeds:
        for lang in langs:
            t0 = time.time()
            res = adapt(
                f"sib:{lang}",
                prompt,
                source_task="sib:eng_Latn",
                model=MODEL,
                seed=seed,
                initial_prompt=a.initial_prompt,
                prompt_language=a.prompt_language,
                iterations=a.iterations,
                budget=a.budget,
                max_optimizer_calls=a.max_optimizer_calls,
                n_train=a.n_train,
                test_limit=a.test_limit,
                lcp_settings=lcp_settings(a.paper),
                run_dir=Path(a.out) / f"{lang}-s{seed}",
            )
            entries.append((f"{lang} s{seed}", res))
            print(f"{lang} s{seed}: {time.time() - t0:.0f} s", flush=True)
            head = "**PARTIAL**: not every run has finished.\n\n" if len(entries) < total else ""
            table = matrix(finished(Path(a.out), lang_label), spread=True)
            (Path(a.out) / "matrix.md").write_text(f"{head}{table}\n", encoding="utf-8")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--langs", default=LANGS)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--prompt-file")
    ap.add_argument(
        "--initial-prompt",
        default=START,
        help="where LCP from scratch starts: the public bench's start prompt, from which LCP "
        "reached 69.5%% on English",
    )
    ap.add_argument("--n-train", type=int, default=50)
    ap.add_argument("--test-limit", type=int, default=200)
    ap.add_argument("--budget", type=int, default=300)
    ap.add_argument("--max-optimizer-calls", type=int, default=20)
    ap.add_argument("--iterations", type=int, default=50)
    ap.add_argument(
        "--prompt-language",
        default="both",
        choices=("source", "target", "both"),
        help="adapted prompts kept in English, written in the target language, or both runs",
    )
    ap.add_argument(
        "--paper",
        action="store_true",
        help="the LCP parts run LCP's paper profile (profile=paper) instead of its default",
    )
    ap.add_argument("--n", type=int, default=60, help="test items per language for --probe")
    ap.add_argument("--out", default="bench/results/adapt_sib")
    ap.add_argument("--probe", action="store_true")
    ap.add_argument("--dry-run", action="store_true")
    ap.add_argument("--tables", action="store_true", help="redraw matrix.md only, run nothing")
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    if a.tables:
        redraw(out, lang_label)
        sys.exit(0)
    prompt, where = source_prompt(a.prompt_file)
    print(f"source prompt ({where}): {prompt}", flush=True)
    langs = [x for x in a.langs.split(",") if x]
    seeds = [int(s) for s in a.seeds.split(",") if s]
    if a.probe and a.dry_run:
        print_probe_plan(langs, a.n)
    elif a.probe:
        probe(prompt, langs, a.n, out)
    elif a.dry_run:
        parts = plan(
            f"sib:{langs[0]}",
            model=MODEL,
            source_task="sib:eng_Latn",
            prompt_language=a.prompt_language,
            iterations=a.iterations,
            budget=a.budget,
            max_optimizer_calls=a.max_optimizer_calls,
            n_train=a.n_train,
            test_limit=a.test_limit,
            lcp_settings=lcp_settings(a.paper),
        )
        hours = sum(p["time_s"] for p in parts) * len(langs) * len(seeds) / 3600
        print(json.dumps(parts, indent=1))
        print(f"{len(langs)} languages x {len(seeds)} seeds: ~{hours:.1f} h")
    else:
        run_matrix(prompt, langs, seeds, a)
