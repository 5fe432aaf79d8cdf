"""When a reply may end early: the rule the local engine applies to closed-answer tasks."""

from __future__ import annotations

import pytest

from contrastprompt.data.extract import (
    CHOICE,
    INTEGER,
    LABEL,
    YESNO,
    answer_complete,
    answer_spec,
    extract_answer,
)

SIB = ("entertainment", "geography", "health", "politics", "science/technology", "sports", "travel")


def done(text: str, labels=SIB, prompt: str = "Classify the topic.", kind: str = LABEL) -> bool:
    return answer_complete(answer_spec(kind, labels, prompt))(text)


@pytest.mark.parametrize(
    "text",
    [
        "Sports\n",
        "sports.",
        "**Health**",
        "Answer: travel\n",
        "The answer is: politics.",
        "Sports ",
    ],
)
def test_a_closed_label_ends_the_reply(text: str) -> None:
    assert done(text)


@pytest.mark.parametrize(
    "text",
    [
        "Sports",  # the next character could still extend it
        "science",  # may become science/technology
        "science/",
        "The sentence is about",  # no label yet
        "Answer:",
        "Answer: sci",
        "Not sports",  # not an opening label
    ],
)
def test_an_open_reply_goes_on(text: str) -> None:
    assert not done(text)


def test_a_prompt_that_asks_for_reasoning_is_not_cut_at_an_opening_label() -> None:
    prompt = "Think step by step, then give the topic as 'Answer: <topic>'."
    assert not done("Sports are mentioned, but the text is about a clinic.\n", prompt=prompt)
    assert done("Sports are mentioned, but it is a clinic. Answer: health.", prompt=prompt)


def test_the_cut_reply_extracts_as_the_whole_one_would_open() -> None:
    full = "Health\n\nThe sentence describes a new hospital wing and its doctors."
    rule = answer_complete(answer_spec(LABEL, SIB, "Classify the topic."))
    cut = next(full[:i] for i in range(1, len(full) + 1) if rule(full[:i]))
    assert cut == "Health\n"
    assert extract_answer(cut, LABEL, labels=SIB) == extract_answer(full, LABEL, labels=SIB)


def test_option_letters_and_yes_no() -> None:
    assert done("(B) because", kind=CHOICE, labels=())
    assert not done("(B", kind=CHOICE, labels=())
    assert done("Answer: (C)", kind=CHOICE, labels=())
    assert done("No, the", kind=YESNO, labels=())
    assert not done("Not", kind=YESNO, labels=())


def test_open_answers_never_end_early() -> None:
    assert answer_spec(INTEGER, (), "Compute it.") is None
    assert answer_spec(LABEL, (), "Classify.") is None
