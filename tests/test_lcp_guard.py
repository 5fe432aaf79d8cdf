"""LCP's format guard on written prompts: what it keeps, repairs and rejects, from the text."""

from __future__ import annotations

import pytest

from contrastprompt import Task
from contrastprompt.data import Example
from contrastprompt.optimizers import guard

TREC = ("abbreviation", "description", "entity", "human", "location", "number")


def trec(max_tokens: int | None = None) -> Task:
    questions = [
        "What is the largest snake in the world that lives in water ?",
        "Who was the first president of the United States of America ?",
        "How many feet are there in one mile of road ?",
        "What does the abbreviation NASA stand for in English ?",
    ]
    exs = [
        Example(input=f"{q} ({i})", target=TREC[i % len(TREC)], id=f"t{i}")
        for i, q in enumerate(questions * 6)
    ]
    task = Task("trec", exs, answer_type="label", labels=TREC)
    task.max_tokens = max_tokens
    return task


@pytest.mark.parametrize(
    "text",
    [
        "Say which kind of answer the question asks for: a number, a human, a location ...",
        "Read the question and name the type of its answer (entity, description, or other).",
        # "work out" as "find", and a quoted list of labels, are neither steps nor an example
        "Work out which kind of answer the question asks for: a number, a human, a location.",
        "Reply with 'entity', 'human' or 'number', the answer must be a single label.",
    ],
)
def test_a_prompt_that_names_the_labels_and_gives_advice_is_kept(text):
    assert guard.check(text, trec()) == guard.Verdict("keep", text)


def test_a_prompt_that_names_no_label_is_repaired_with_the_answer_form():
    v = guard.check("Classify the input according to the given category.", trec())
    assert v.action == "repair" and v.why == "names no answer"
    assert v.text.endswith("Answer with one of these labels: " + ", ".join(TREC) + ".")
    assert guard.passes(v.text, trec())


@pytest.mark.parametrize(
    "text",
    [
        "Think step by step, then give the label (number, human, location, ...).",
        "Explain your reasoning before you answer with one of the labels: entity, human.",
        "Work it out first, then give one of the labels: entity, human.",
    ],
)
def test_a_prompt_that_asks_for_steps_is_rejected_when_the_answer_limit_is_short(text):
    v = guard.check(text, trec())
    assert v.action == "reject" and "96-token answer limit" in v.why
    assert guard.check(text, trec(max_tokens=512)).action == "keep"  # room for the steps


@pytest.mark.parametrize(
    "text, why",
    [
        (
            "If the question is 'Who was the first president', the label should be human.",
            "invents a worked example",
        ),
        (
            "For 'How many feet are in a mile?', the answer should be number.",
            "invents a worked example",
        ),
        (
            "The instruction should reflect that entity and human are the usual labels.",
            "talks about the instruction",
        ),
        (
            "Classify the question by its answer type. The instruction should tell the model to "
            "use one of the labels: description, entity, expression, human, location, number.",
            "talks about the instruction",
        ),
        (
            "Given a basic instruction about identifying the category of a question, classify "
            "the question as description, entity, expression, human, location or number.",
            "talks about the instruction",
        ),
        (
            "Answer with a label; for example the largest snake in the world that lives in "
            "water is an entity.",
            "quotes a training question",
        ),
    ],
)
def test_a_prompt_that_is_not_an_instruction_is_rejected(text, why):
    task = trec()
    quotes = guard.QuoteFinder([task.render(e) for e in task.examples[:4]])
    v = guard.check(text, task, quotes)
    assert v.action == "reject" and why in v.why


def test_phrasing_that_many_training_inputs_share_is_not_a_quote():
    shared = "If you follow these instructions, do you return to the starting point?"
    inputs = [f"{shared} Take {i} steps. Turn left." for i in range(20)]
    quotes = guard.QuoteFinder(inputs)
    assert not quotes.quotes(f"Track every move. {shared} Answer Yes or No.")
    assert quotes.quotes("Answer Yes or No: return to the starting point? Take 7 steps. Turn")


def test_yes_no_tasks_need_yes_or_no_and_open_answers_need_nothing():
    yes_no = Task("yn", [Example(f"q{i}", "Yes" if i % 2 else "No", f"q{i}") for i in range(8)])
    assert guard.check("Decide carefully.", yes_no).action == "repair"
    assert guard.check("Decide carefully; say Yes or No.", yes_no).action == "keep"
    ints = Task("n", [Example(f"q{i}", str(i), f"q{i}") for i in range(8)])
    assert guard.check("Compute carefully.", ints).action == "keep"
