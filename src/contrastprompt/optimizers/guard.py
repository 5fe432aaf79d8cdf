"""LCP's format guard: what is wrong with a written prompt before it spends task requests.

A small optimizer model writes prompts whose answers the metric cannot read, or that are not
instructions at all, and every one of them costs a scoring (the public bench's diagnosis: 9 of
33 candidates named no label; one contrast prompt asked for steps and 199 of 200 replies hit the
96-token answer cap). The guard looks at the text only, so it costs no request:

- names no answer of a closed answer set (labels, Yes/No, ...): repaired, one sentence naming
  them is appended (the answers are read by the metric only when the reply names one);
- asks for reasoning or steps while the task's answer limit is short: rejected (the reply is cut
  before its answer; no appended sentence undoes "think step by step");
- quotes a training question (a run of words that occurs in one or a few training inputs, not
  the phrasing all of them share), invents a worked example ("if the question is '...'"), or
  talks about the instruction instead of giving it ("The instruction should reflect ..."):
  rejected, since the task model would read that text before every question.

`check` returns what to do; the optimizer records it as an event and acts on it.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from ..data.extract import answer_words, names_an_answer
from ..data.task import Task

# an answer limit below this holds a short justification, not a chain of steps
SHORT_ANSWER_TOKENS = 256
# words in a row that count as a quote of a training input
QUOTE_WORDS = 6

_STEPS = re.compile(
    r"step[- ]by[- ]step|\bone step at a time\b|\bthink (?:it )?(?:through|carefully|aloud)\b"
    r"|\breason (?:through|about it|it out)\b|\bwork (?:it|this) out\b"
    r"|\bshow (?:your |the |all )?(?:work|steps|reasoning)\b"
    r"|\bexplain (?:your|the|each) (?:reasoning|steps?|thinking)\b"
    r"|\b(?:list|write (?:out|down)) (?:the |your |each |all )?(?:steps|reasoning)\b"
    r"|\bbreak (?:it|this|the \w+) down\b|\bchain of thought\b",
    re.I,
)
_WORKED = re.compile(
    r"\b(?:if|when) (?:the )?(?:question|input|text|sentence|review|query|passage)"
    r"\s+(?:is|says|reads|asks|was)\s*[:,]?\s*[\"'“‘]"
    r"|\?\s*[\"”’']\s*,?\s*(?:then )?the (?:label|answer|category|output)"
    r" (?:should|would|must|will) be\b",
    re.I,
)
_ABOUT = re.compile(
    r"(?:^|[.!?]\s+)\W*(?:the|this|a|an|our|your) (?:new |revised |improved |better |updated "
    r"|final )?(?:instruction|prompt)s? (?:should|must|needs? to|will|would|could|can|has to)\b"
    r"|^\W*given (?:a|an|the) (?:\w+ )?(?:instruction|prompt)\b"
    r"|\b(?:the|this) (?:new |revised |improved )?(?:instruction|prompt) should (?:reflect|"
    r"emphasi[sz]e|focus|include|mention|state|address|be)\b",
    re.I | re.M,
)
_WORD = re.compile(r"[a-z0-9']+")


@dataclass(frozen=True)
class Verdict:
    """What the guard decided: "keep" (as written), "repair" (`text` is the repaired prompt) or
    "reject" (`why` says what is wrong)."""

    action: str
    text: str
    why: str = ""


def asks_for_steps(text: str) -> bool:
    """Whether a prompt asks the model to reason step by step before it answers."""
    return bool(_STEPS.search(text))


def _grams(text: str, n: int) -> set[tuple[str, ...]]:
    words = _WORD.findall(text.lower())
    return {tuple(words[i : i + n]) for i in range(len(words) - n + 1)}


class QuoteFinder:
    """Runs of `QUOTE_WORDS` words that occur in at most a few training inputs: a prompt that
    holds one copies a question. Runs that many inputs share (a task's fixed phrasing, such as
    "If you follow these instructions, do you return to the starting point?") are not quotes."""

    def __init__(self, inputs: Sequence[str], n: int = QUOTE_WORDS) -> None:
        self.n = n
        counts: Counter[tuple[str, ...]] = Counter()
        for text in inputs:
            counts.update(_grams(text, n))
        rare = max(1, len(inputs) // 10)
        self.rare = {g for g, c in counts.items() if c <= rare}

    def quotes(self, text: str) -> bool:
        return bool(_grams(text, self.n) & self.rare)


def check(text: str, task: Task, quotes: QuoteFinder | None = None) -> Verdict:
    """The guard's verdict on one written prompt for `task` (see the module docstring)."""
    max_tokens, _ = task.limits()
    if max_tokens < SHORT_ANSWER_TOKENS and asks_for_steps(text):
        return Verdict(
            "reject", text, f"asks for steps, which the {max_tokens}-token answer limit cuts"
        )
    if _WORKED.search(text):
        return Verdict("reject", text, "invents a worked example")
    if _ABOUT.search(text):
        return Verdict("reject", text, "talks about the instruction instead of giving it")
    if quotes is not None and quotes.quotes(text):
        return Verdict("reject", text, "quotes a training question")
    words = answer_words(task.answer_type, task.labels)
    if words and not names_an_answer(text, words):
        return Verdict(
            "repair",
            f"{text.rstrip()}\n\nAnswer with {task.answer_format()}.",
            "names no answer",
        )
    return Verdict("keep", text)


def passes(text: str, task: Task, quotes: QuoteFinder | None = None) -> bool:
    """Whether a prompt passes the guard as written: what the contrast step asks of the prompts
    it compares (a near miss, not a prompt that names no label)."""
    return check(text, task, quotes).action == "keep"
