"""LCP inside DSPy: a two-step DSPy program for TREC question classification, its instructions
optimized by `contrastprompt.dspy.LCP`, every model call made by DSPy's own LM client.

    python examples/dspy_trec.py --run-dir runs/dspy-trec            # embedded 1.5B model
    python examples/dspy_trec.py --api-base http://127.0.0.1:8080/v1 --run-dir runs/x

With no --api-base it starts the embedded engine (`contrastprompt.dspy.local_lm`). Re-running
with the same --run-dir resumes. The last line printed is JSON: instructions, scores, calls.
"""

from __future__ import annotations

import argparse
import json
import random
from typing import Literal

import dspy

from contrastprompt.dspy import LCP, local_lm
from contrastprompt.inputs import resolve_task

TrecLabel = Literal["Description", "Entity", "Expression", "Human", "Location", "Number"]


class AnswerKind(dspy.Signature):
    question: str = dspy.InputField()
    answer_kind: str = dspy.OutputField()


class Label(dspy.Signature):
    question: str = dspy.InputField()
    answer_kind: str = dspy.InputField()
    label: TrecLabel = dspy.OutputField()


class Route(dspy.Module):
    """Step one says what kind of answer the question wants; step two names the TREC label.

    The label is typed with the six labels, as a DSPy user would write it: DSPy lists them in
    the format it asks for and refuses a reply that is none of them exactly. The signatures have
    no docstring, so both predictors start from DSPy's default instructions ("Given the fields
    ..."), which say nothing about the task: the room the optimizers compete for."""

    def __init__(self) -> None:
        super().__init__()
        self.kind = dspy.Predict(AnswerKind)
        self.label = dspy.Predict(Label)

    def forward(self, question: str) -> dspy.Prediction:
        kind = self.kind(question=question).answer_kind
        return self.label(question=question, answer_kind=kind)


def label_match(example: dspy.Example, prediction: dspy.Prediction, trace: object = None) -> bool:
    return str(prediction.label).strip().lower().startswith(example.label.lower())


def trec(n: int, seed: int) -> list[dspy.Example]:
    """A seeded sample of TREC (the packaged copy): the file is sorted by label."""
    items = list(resolve_task("cls:trec").examples)
    random.Random(seed).shuffle(items)
    return [
        dspy.Example(question=e.input, label=e.target).with_inputs("question") for e in items[:n]
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run-dir", required=True)
    ap.add_argument("--api-base", help="an OpenAI-compatible endpoint serving model 'local'")
    ap.add_argument("--model", default="local:qwen2.5-coder-1.5b")
    ap.add_argument("--n-train", type=int, default=20)
    ap.add_argument("--n-val", type=int, default=40)
    ap.add_argument("--budget", type=int, default=120)
    ap.add_argument("--max-optimizer-calls", type=int, default=12)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    if a.api_base:
        lm = dspy.LM(
            "openai/local",
            api_base=a.api_base,
            api_key="local",
            temperature=0.0,
            max_tokens=a.max_tokens,
            cache=False,
        )
    else:
        lm = local_lm(a.model, max_tokens=a.max_tokens, cache=False)
    dspy.configure(lm=lm)
    data = trec(a.n_train + a.n_val, seed=0)
    opt = LCP(
        label_match,
        optimizer_lm=lm,
        budget=a.budget,
        run_dir=a.run_dir,
        iterations=1,
        max_optimizer_calls=a.max_optimizer_calls,
        seed=a.seed,
    )
    tuned = opt.compile(Route(), trainset=data[: a.n_train], valset=data[a.n_train :])
    print(
        json.dumps(
            {
                "instructions": {n: p.signature.instructions for n, p in tuned.named_predictors()},
                "results": {
                    n: {
                        "initial_train": r.initial_train_score,
                        "best_train": r.best_train_score,
                        "initial_val": r.initial_test_score,
                        "best_val": r.best_test_score,
                        "run_dir": str(r.run_dir),
                    }
                    for n, r in opt.results.items()
                },
                "program_calls": opt.program_calls,
            }
        )
    )


if __name__ == "__main__":
    main()
