"""A scripted LLM for unit tests of the optimizer's bookkeeping (never as proof a feature works
end to end; those tests use the real embedded model).

Task requests: a prompt containing "GOOD<k>" answers the first k of every 10 examples right
(by looking up the target), anything else answers wrong. Optimizer requests are answered by
`optimizer_reply(kind, text, n)` where kind is reason/candidate/contrast and n counts calls.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable

from contrastprompt.data import Example
from contrastprompt.llm import ChatRequest, ChatResponse

MARKERS = {
    "questions of the task that the model got wrong": "reasons",
    "Why did the model get this wrong": "reason",
    "Instructions with high scores": "contrast",
    "Find what these notes have in common": "candidate",
    "What is wrong with this instruction": "gradient",
    "Rewrite the instruction to fix": "edit",
    "Say the same instruction in other words": "paraphrase",
    "Instructions tried so far": "opro",
    "Here are questions and their correct answers": "induce",
    "Write a variation of this instruction": "resample",
    "Write one hint": "hint",
    "Merge these hints": "summary",
    "I provided an assistant with the following instructions": "gepa",
}
# a translation request quotes a template, so its own marker is looked for first
MARKERS = {"Translate the text below into": "translate", **MARKERS}


def kind_of(text: str) -> str:
    for marker, kind in MARKERS.items():
        if marker in text:
            return kind
    return "task"


class ScriptedBackend:
    def __init__(
        self, examples: list[Example], optimizer_reply: Callable[[str, str, int], str] | None = None
    ) -> None:
        self.model_id = "scripted:test"
        self.targets = {e.input: (i, e.target) for i, e in enumerate(examples)}
        self.reply = optimizer_reply or default_reply
        self.counts: Counter[str] = Counter()
        self.requests: list[tuple[str, ChatRequest]] = []

    async def complete(self, request: ChatRequest) -> ChatResponse:
        text = "\n".join(m.content for m in request.messages)
        kind = kind_of(text)
        self.counts[kind] += 1
        self.requests.append((kind, request))
        if kind == "task":
            return ChatResponse(text=self._answer(text), prompt_tokens=10, completion_tokens=2)
        return ChatResponse(
            text=self.reply(kind, text, self.counts[kind]), prompt_tokens=50, completion_tokens=20
        )

    def _answer(self, text: str) -> str:
        m = re.search(r"GOOD(\d+)", text)
        k = int(m.group(1)) if m else 0
        for inp, (i, target) in self.targets.items():
            if text.endswith(inp):
                wrong = "No" if target == "Yes" else "Yes"
                return f"Answer: {target if i % 10 < k else wrong}"
        raise AssertionError("unknown input")

    async def aclose(self) -> None:
        return None


def default_reply(kind: str, text: str, n: int) -> str:
    if kind == "reasons":
        k = len(re.findall(r"^Question \d+:", text, re.M))
        return "".join(f"<reason>Case {n}.{i}: no label is named.</reason>" for i in range(k))
    if kind == "reason":
        return f"<reason>The prompt does not say how to decide (case {n}).</reason>"
    if kind == "candidate":
        return f"<prompt>Decide carefully, GOOD{n % 10} variant {n}.</prompt>"
    if kind == "gradient":
        return "".join(f"<problem>It never says rule {n}.{k} clearly.</problem>" for k in range(4))
    if kind in ("edit", "paraphrase", "opro", "induce", "resample"):
        return f"<prompt>Answer with care, GOOD{n % 10} {kind} {n}.</prompt>"
    if kind == "gepa":
        return f"Here it is:\n```\nAnswer with care, GOOD{min(n + 4, 9)} gepa {n}.\n```"
    if kind == "hint":
        return f"<hint>Check every step of the question, case {n}.</hint>"
    if kind == "summary":
        return f"<hint>Check every step, merged advice GOOD{min(n + 5, 9)} round {n}.</hint>"
    return (
        "<patterns>Good ones are specific.</patterns>\n<prompt>Be specific: GOOD9 final.</prompt>"
    )


def yes_no_examples(n: int = 40) -> list[Example]:
    return [
        Example(input=f"Question number {i}?", target="Yes" if i % 2 else "No", id=f"q{i}")
        for i in range(n)
    ]
