"""Which local model can be the task model of a public bench? Per task and model, a plain prompt
that lists the labels against a hand-written one that says what each label means.

    python bench/task_models.py --out bench/results/task_models.json
    python bench/task_models.py --models qwen2.5-coder-1.5b --tasks cls:trec --n 60

Each cell is `contrastprompt evaluate` on the same seeded random sample of `--n` test items of
split seed 0 (the files are sorted by label, so never their first items), no response cache;
the table gives accuracy with a 95% Wilson interval, the majority share of those items (what
answering one label to everything scores) and the most common answer's share. A model whose
accuracy sits at the majority share with both prompts has nothing for a prompt to unlock.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from contrastprompt import evaluate_prompt, load_task
from contrastprompt.data.task import take
from contrastprompt.stats import wilson_interval

PLAIN = {
    "cls:sst2": "Classify the sentiment of the review. Answer with one label: negative or "
    "positive.",
    "cls:subj": "Classify the sentence. Answer with one label: subjective or objective.",
    "cls:trec": "Classify the question. Answer with one label: Description, Entity, Expression, "
    "Human, Location or Number.",
    "cls:agnews": "Classify the news article. Answer with one label: World, Sports, Business or "
    "Tech.",
    "cls:sst5": "Classify the sentiment of the review. Answer with one label: terrible, bad, "
    "okay, good or great.",
    "sib:eng_Latn": "Classify the topic of the sentence. Answer with one label: "
    "science/technology, travel, politics, sports, health, entertainment or geography.",
}
DEFINED = {
    "cls:sst2": "Is the movie review's opinion of the film favourable or not? Answer 'positive' "
    "if the reviewer likes it, 'negative' if not. Reply with that one word.",
    "cls:subj": "Does the sentence state the writer's opinion or feeling (subjective), or "
    "describe facts or events of a plot without judging them (objective)? Reply with one word: "
    "subjective or objective.",
    "cls:trec": "What kind of answer does the question ask for? Description: a definition, "
    "reason or manner (what is, why, how). Entity: a thing, animal, product, colour, term. "
    "Expression: what an abbreviation stands for. Human: a person or group. Location: a place. "
    "Number: a count, date, amount or other quantity. Reply with one label only.",
    "cls:agnews": "Which section of a newspaper does the article belong to? World: international "
    "affairs and politics. Sports. Business: companies, markets, economy. Tech: science and "
    "technology. Reply with one label only: World, Sports, Business or Tech.",
    "cls:sst5": "How much does the reviewer like the film? terrible (hates it), bad (dislikes "
    "it), okay (mixed), good (likes it), great (loves it). Reply with one of those words only.",
    "sib:eng_Latn": "Which topic is the sentence about? science/technology, travel, politics, "
    "sports, health, entertainment, geography (places, land, climate). Reply with the topic "
    "exactly as written here.",
}


def cell(model: str, task_name: str, prompt: str, n: int) -> dict:
    task = load_task(task_name)
    test = take(task.split(0)[1], n, seed=0)
    res = evaluate_prompt(prompt, task, model=model, examples=test, use_cache=False)
    recs = res["records"]
    k = sum(r["correct"] for r in recs)
    targets = Counter(r["target"] for r in recs)
    answers = Counter(r["extracted"] or "" for r in recs)
    lo, hi = wilson_interval(k, len(recs))
    top, top_n = answers.most_common(1)[0]
    return {
        "model": model,
        "task": task_name,
        "accuracy": k / len(recs),
        "ci": [lo, hi],
        "majority": targets.most_common(1)[0][1] / len(recs),
        "top_answer": [top, top_n / len(recs)],
        "n": len(recs),
        "seconds": round(res["wall_time"], 1),
    }


def table(rows: list[dict]) -> str:
    out = [
        "| task | model | majority | labels listed | labels defined | top answer (defined) |",
        "|---|---|---|---|---|---|",
    ]
    by = {(r["task"], r["model"], r["prompt"]): r for r in rows}
    for task, model in dict.fromkeys((r["task"], r["model"]) for r in rows):
        p, d = by.get((task, model, "plain")), by.get((task, model, "defined"))

        def fmt(r: dict | None) -> str:
            if r is None:
                return "–"
            lo, hi = r["ci"]
            return f"{r['accuracy']:.1%} ({lo:.0%}–{hi:.0%})"

        ref = p or d
        top = d or p
        out.append(
            f"| {task} | {model} | {ref['majority']:.1%} | {fmt(p)} | {fmt(d)} | "
            f"{top['top_answer'][0] or 'none'} {top['top_answer'][1]:.0%} |"
        )
    return "\n".join(out)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--models", nargs="+", default=["smollm2-135m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b"]
    )
    ap.add_argument("--tasks", nargs="+", default=list(PLAIN))
    ap.add_argument("--n", type=int, default=60)
    ap.add_argument("--out", default="")
    a = ap.parse_args()
    path = Path(a.out) if a.out else None
    rows = json.loads(path.read_text())["rows"] if path and path.is_file() else []
    done = {(r["model"], r["task"], r["prompt"]) for r in rows}
    for model in a.models:
        for task in a.tasks:
            for kind, prompts in (("plain", PLAIN), ("defined", DEFINED)):
                m = f"local:{model}"
                if (m, task, kind) in done:
                    continue
                r = cell(m, task, prompts[task], a.n) | {"prompt": kind}
                rows.append(r)
                print(json.dumps(r), flush=True)
                if path:
                    path.write_text(json.dumps({"n": a.n, "rows": rows}, indent=1))
    md = table(rows)
    print(md)
    if path:
        path.with_suffix(".md").write_text(md + "\n")
