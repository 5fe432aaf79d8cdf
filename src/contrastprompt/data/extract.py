"""Answer types and extraction robust to small-model chatter ("The answer is (B).", "**B**")."""

from __future__ import annotations

import re
from collections.abc import Sequence

CHOICE = "choice"
YESNO = "yes/no"
TRUEFALSE = "true/false"
VALIDITY = "valid/invalid"
INTEGER = "integer"
LABEL = "label"  # one of a small closed set of short labels, read from the targets
TEXT = "text"

_LABELS = {YESNO: ("yes", "no"), TRUEFALSE: ("true", "false"), VALIDITY: ("valid", "invalid")}
_CHOICE_RE = re.compile(r"^\([A-R]\)$")
_INT_RE = re.compile(r"^-?\d+$")


def infer_answer_type(targets: Sequence[str]) -> str:
    """The answer type most targets fit; a few irregular targets (BBH has 3) do not flip it."""
    norm = [t.strip() for t in targets if t.strip()]
    if not norm:
        return TEXT
    low = [t.lower() for t in norm]
    need = max(1, int(0.95 * len(norm)))
    for kind, labels in _LABELS.items():
        if sum(t in labels for t in low) >= need:
            return kind
    if sum(bool(_CHOICE_RE.match(t)) for t in norm) >= need:
        return CHOICE
    if sum(bool(_INT_RE.match(t)) for t in norm) >= need:
        return INTEGER
    if closed_labels(norm):
        return LABEL
    return TEXT


def closed_labels(targets: Sequence[str], max_labels: int = 12) -> tuple[str, ...]:
    """The label set when targets come from a small closed set of short labels (each used at
    least three times on average, at most three words), else (). Such answers are found
    anywhere in a chatty output, like Yes/No, instead of demanding the exact text."""
    norm = [" ".join(t.strip().lower().split()) for t in targets if t.strip()]
    labels = sorted(set(norm))
    if not 2 <= len(labels) <= max_labels or len(norm) < 3 * len(labels):
        return ()
    if any(len(x.split()) > 3 or len(x) > 40 for x in labels):
        return ()
    return tuple(labels)


# Where an answer is announced; the text after the last such marker is what we parse first.
_MARKER = re.compile(
    r"(?:final answer|answer|so the answer is|the answer is|correct option is|"
    r"correct answer is|option)\s*(?:is|would be|:)?\s*:?\s*",
    re.I,
)


def _after_markers(text: str) -> list[str]:
    """Candidate spans to parse: after each answer marker (last first), then the whole text."""
    spans = [text[m.end() :] for m in _MARKER.finditer(text)]
    return list(reversed(spans)) + [text]


def _options(input_text: str) -> dict[str, str]:
    """Option letter -> option text from a BBH-style 'Options:' list."""
    return {
        m.group(1): m.group(2).strip().lower()
        for m in re.finditer(r"^\s*\(([A-R])\)\s*(.+)$", input_text, re.M)
    }


def extract_choice(text: str, input_text: str = "") -> str | None:
    options = _options(input_text)
    allowed = set(options) or set("ABCDEFGHIJKLMNOPQR")
    pats = [
        r"\(([A-R])\)",
        r"\*\*\s*\(?([A-R])\)?\s*\*\*",
        r"\b([A-R])\)",
        r"^\s*([A-R])\b[.:)]?",
        r"\b(?:option|answer|choice)\s*:?\s*\(?([A-R])\b",
    ]
    for span in _after_markers(text):
        head = span[:200] if span is not text else span
        for pat in pats:
            for m in re.finditer(pat, head, re.I | re.M if pat.startswith("^") else re.I):
                letter = m.group(1).upper()
                if letter in allowed:
                    return f"({letter})"
        if span is text:
            break
    low = text.lower()
    hits = [k for k, v in options.items() if v and v in low]
    if len(hits) == 1:
        return f"({hits[0]})"
    return None


def _alternation(labels: Sequence[str]) -> str:
    """The labels as one regex alternation, longest first so that 'science/technology' is
    matched whole before 'science'."""
    return "|".join(re.escape(x) for x in sorted(labels, key=len, reverse=True))


def _mention(labels: Sequence[str]) -> re.Pattern[str]:
    """Any of the labels as a whole word, case aside."""
    return re.compile(r"\b(" + _alternation(labels) + r")\b", re.I)


def extract_label(text: str, labels: tuple[str, str]) -> str | None:
    """After the last answer marker; else a label that opens the answer; else the last label
    mentioned (small models state their verdict first or last, rarely in the middle)."""
    alts = _alternation(labels)
    pat = _mention(labels)
    for span in _after_markers(text)[:-1]:
        m = pat.search(span)
        if m:
            return m.group(1).lower()
    m = re.match(r"\W*(" + alts + r")\b", text, re.I)
    if m:
        return m.group(1).lower()
    hits = pat.findall(text)
    return hits[-1].lower() if hits else None


def extract_integer(text: str) -> str | None:
    for span in _after_markers(text)[:-1]:
        m = re.search(r"-?\d[\d,]*", span)
        if m:
            return m.group(0).replace(",", "")
    nums = re.findall(r"-?\d[\d,]*", text)
    return nums[-1].replace(",", "") if nums else None


def extract_text(text: str) -> str | None:
    spans = _after_markers(text)
    span = spans[0] if len(spans) > 1 else text
    line = next((ln for ln in span.strip().splitlines() if ln.strip()), "")
    line = line.strip().strip("*`\"'").strip()
    return line.rstrip(".") if line else None


def extract_answer(
    text: str, answer_type: str, input_text: str = "", labels: Sequence[str] = ()
) -> str | None:
    """The model's answer in the task's format, or None when none can be found."""
    if answer_type == CHOICE:
        return extract_choice(text, input_text)
    if answer_type in _LABELS or answer_type == LABEL:
        return extract_label(text, answer_words(answer_type, labels))
    if answer_type == INTEGER:
        return extract_integer(text)
    return extract_text(text)


def answer_format_hint(answer_type: str, labels: Sequence[str] = ()) -> str:
    """How an answer of this type looks, for meta-prompts and docs."""
    if answer_type == LABEL:
        return "one of these labels: " + ", ".join(labels)
    return {
        CHOICE: "an option letter such as (A)",
        YESNO: "Yes or No",
        TRUEFALSE: "True or False",
        VALIDITY: "valid or invalid",
        INTEGER: "an integer",
        TEXT: "a short text",
    }[answer_type]


def answer_words(answer_type: str, labels: Sequence[str] = ()) -> tuple[str, ...]:
    """The answers of a task with a closed answer set (its labels; Yes and No; ...), which an
    instruction that states the answer form names; none for options, numbers and open text."""
    if answer_type == LABEL:
        return tuple(labels)
    return _LABELS.get(answer_type, ())


def names_an_answer(text: str, words: Sequence[str]) -> bool:
    """Whether `text` names at least one of `words` as a whole word, case aside; a label with
    parts ("science/technology") counts when one part is named."""
    parts = {p.strip() for w in words for p in [w, *w.split("/")] if p.strip()}
    return bool(parts) and _mention(parts).search(text) is not None


def generation_limits(answer_type: str) -> tuple[int, tuple[str, ...]]:
    """max_tokens and stop sequences per answer type: room for a short justification, not for an
    essay; small models that finish answering often go on to invent the next question, so we
    stop there."""
    stop = ("\nQ:", "\nQuestion:", "\nInput:")
    if answer_type in (CHOICE, LABEL, *_LABELS):
        return 96, stop
    if answer_type == INTEGER:
        return 160, stop
    return 192, stop


# Prompts that ask for reasoning before the answer: an opening label is not the answer yet.
_REASONING_FIRST = re.compile(
    r"step[- ]by[- ]step|\breason|\bexplain|\bthink|\bjustif|\brationale|\bwork (?:it )?out",
    re.I,
)


def asks_reasoning_first(prompt: str) -> bool:
    """Whether a prompt asks the model to reason before it answers."""
    return bool(_REASONING_FIRST.search(prompt))


def answer_spec(answer_type: str, labels: Sequence[str], prompt: str) -> dict | None:
    """What `answer_complete` needs to end a reply early, or None where no closed answer set
    makes that safe (integers, free text)."""
    if answer_type == CHOICE:
        labels = ()
    else:
        labels = answer_words(answer_type, labels)
        if not labels:
            return None
    return {
        "type": answer_type,
        "labels": sorted(labels),
        "reasoning": asks_reasoning_first(prompt),
    }


def _closed(labels: Sequence[str], match: str, after: str) -> bool:
    """A label matched as `match` is complete once the next character cannot extend it into
    a longer label ('science' may still become 'science/technology')."""
    if not after:
        return False
    grown = (match + after[0]).lower()
    return not any(x.lower().startswith(grown) for x in labels) and not after[0].isalnum()


def answer_complete(spec: dict):  # noqa: ANN201 - returns a predicate on the reply so far
    """A predicate that is True once a partial reply holds its whole answer in the format the
    prompt asks for: after an answer marker ('Answer: billing.'), or, when the prompt does not
    ask for reasoning first, as the reply's opening word ('Billing\\n'). The extraction rules
    above read the same answer from the cut reply as from the opening of the full one."""
    kind, reasoning = spec.get("type"), bool(spec.get("reasoning"))
    if kind == CHOICE:
        opening = re.compile(r"^\W*\(?([A-R])\)")
        marked = re.compile(r"\(?\b([A-R])\)")
        labels: list[str] = []
    else:
        labels = [str(x) for x in spec.get("labels") or []]
        if not labels:
            return lambda text: False
        # a label at the start of the reply, or of what follows its answer marker: one pattern
        opening = marked = re.compile(r"^\W*(" + _alternation(labels) + r")", re.I)

    def done(text: str) -> bool:
        spans = [text[m.end() :] for m in _MARKER.finditer(text)]
        for span in spans[-1:]:
            m = marked.match(span) if labels else marked.search(span[:12])
            if m and (not labels or _closed(labels, m.group(1), span[m.end() :])):
                return True
        if reasoning or spans:
            return False
        m = opening.match(text)
        if not m:
            return False
        return not labels or _closed(labels, m.group(1), text[m.end() :])

    return done
