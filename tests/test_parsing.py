"""Lenient parsing of optimizer output."""

import pytest

from contrastprompt.optimizers.parsing import parse_prompt, parse_reason


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("<prompt>Think step by step, then answer.</prompt>", "Think step by step, then answer."),
        (
            "<prompt>old one here</prompt> text <prompt>Use the options given.</prompt>",
            "Use the options given.",
        ),
        (
            "Sure!\n<prompt>\nRead the question twice and answer Yes or No.",
            "Read the question twice and answer Yes or No.",
        ),
        (
            "Here it is.\nImproved prompt: Count the steps in each direction.\n\nThanks",
            "Count the steps in each direction.",
        ),
        (
            "```\nCheck each statement before answering.\n```",
            "Check each statement before answering.",
        ),
        ("Answer with the option letter only.", "Answer with the option letter only."),
        # a fence labelled as the 1.5B optimizer labels it, after an introduction
        (
            "Here is a better instruction:\n\n```prompt>\nName the kind of answer.\n```\n\nDone.",
            "Name the kind of answer.",
        ),
        ("```prompt>\nName the kind of answer wanted.", "Name the kind of answer wanted."),
        ("<prompt>(the new prompt)</prompt>", None),
        ("<prompt>ok</prompt>", None),
        ("", None),
        ("<patterns>a</patterns>", None),
    ],
)
def test_parse_prompt(raw, expected):
    assert parse_prompt(raw) == expected


def test_parse_reason_prefers_tag_and_collapses_space():
    assert parse_reason("x <reason>It ignores\n the options.</reason>") == "It ignores the options."
    assert parse_reason("no tag but a reason sentence") == "no tag but a reason sentence"
    assert parse_reason("ok") is None


@pytest.mark.parametrize(
    "raw,expected",
    [
        # answers of the 1.5B optimizer stopped at </prompt>: only the opening tag is left
        (
            "<prompt>\nAnswer the question. End with 'Answer: <option>'.\n",
            "Answer the question. End with 'Answer: <option>'.",
        ),
        (
            "<prompt>\nAnswer the question. Add <option> to indicate the correct answer.\n",
            "Answer the question. Add <option> to indicate the correct answer.",
        ),
        # complete block, and plain answers, that keep an angle-bracket convention
        (
            "<prompt>Work it out, then end with 'Answer: <option>'.</prompt>",
            "Work it out, then end with 'Answer: <option>'.",
        ),
        (
            "Reply with 'Answer: <yes or no>' on the last line.",
            "Reply with 'Answer: <yes or no>' on the last line.",
        ),
        # a wrapper the optimizer invented around the prompt is removed
        (
            "<prompt>\n<instruction>\nAnswer with one label: billing, delivery, technical.\n"
            "</instruction>",
            "Answer with one label: billing, delivery, technical.",
        ),
        (
            "<prompt><instruction>Name the label only.</instruction></prompt>",
            "Name the label only.",
        ),
        ("<prompt>\n<query>\nAnswer Yes or No.\n</query>", "Answer Yes or No."),
        # seen from the 1.5B optimizer on navigate: an announcement, then an unclosed wrapper
        (
            "Here is the new instruction we want to set:\n\n<instructions>\nTrack each step, "
            "then end with 'Answer: Yes' or 'Answer: No'.",
            "Track each step, then end with 'Answer: Yes' or 'Answer: No'.",
        ),
        ("Let's analyze the notes shared:", None),
        (
            "The high-scoring instructions ensure that the model always faces forward and "
            "follows a specific sequence of steps. The low-scoring instructions do not.",
            None,
        ),
        ("Following the reviewers' notes, answer carefully. End with 'Answer: Yes'.", None),
        # seen from the 1.5B on TREC: its own analysis of the notes, and a placeholder
        (
            "Let's start by understanding what these notes have in common across all "
            "questions. They all expect a succinct response.",
            None,
        ),
        ("Classify the input as one of these {{checkboxes}}.", None),
        # seen from the 1.5B on TREC: a fence opened inside the block, closed, then a remark
        (
            "<prompt>```prompt>\nName the kind of answer: number, human or location.\n\n"
            "Answer in this format:\nLabel (number, human, location)\n```\n\n"
            "All feedback statements are incorporated into this new instruction.</prompt>",
            "Name the kind of answer: number, human or location.\n\n"
            "Answer in this format:\nLabel (number, human, location)",
        ),
        (
            "<prompt>Answer with one label.\n\nThis revised prompt adds the label list.</prompt>",
            "Answer with one label.",
        ),
        # a whole fenced block inside a prompt is part of it
        (
            "<prompt>Reply in this form:\n```\nLabel: X\n```\nNothing else.</prompt>",
            "Reply in this form:\n```\nLabel: X\n```\nNothing else.",
        ),
        (
            "Score each option, then pick the top one. End with 'Answer: <option>'.",
            "Score each option, then pick the top one. End with 'Answer: <option>'.",
        ),
        # seen from the 1.5B adapting a SIB prompt: the current instruction echoed under a
        # framing line, then an announced new one and a closing offer
        (
            "Given the instruction:\nClassify the text by topic.\n\nBelow is a better "
            "instruction that should help on every question:\n\nDecide the topic of the text "
            "from its content, then answer with one label: sports or travel.\n\nIf you have "
            "any questions or need further clarification, please let me know.",
            "Decide the topic of the text from its content, then answer with one label: "
            "sports or travel.",
        ),
        (
            "<prompt>\nGiven the instruction:\nClassify the given text into one of these "
            "topics: sports, travel.\nRead the text carefully.\n",
            "Classify the given text into one of these topics: sports, travel.\n"
            "Read the text carefully.",
        ),
        # seen from the 1.5B on SIB: a prompt in angle brackets of its own, closed or not
        (
            "<prompt><classify the input as sports, travel, health></prompt>",
            "classify the input as sports, travel, health",
        ),
        (
            "<prompt>\n<classify the text into one of: sports, travel. Follow it exactly.\n",
            "classify the text into one of: sports, travel. Follow it exactly.",
        ),
        # a prompt that opens with "Given" otherwise keeps it
        (
            "<prompt>Given the sentence, name its topic: sports or travel.</prompt>",
            "Given the sentence, name its topic: sports or travel.",
        ),
        # a lone opening tag still ends at the next structural tag
        (
            "<prompt>\nCount the steps, then answer Yes or No.\n<patterns>x</patterns>",
            "Count the steps, then answer Yes or No.",
        ),
    ],
)
def test_angle_bracket_conventions_survive(raw, expected):
    assert parse_prompt(raw) == expected


def test_strict_parsing_refuses_an_analysis_without_a_marked_prompt():
    from contrastprompt.optimizers.parsing import parse_strict

    analysis = "There are several key differences between the two groups:\n\n1. Clarity."
    assert parse_prompt(analysis) is not None  # the lenient parser would take it
    assert parse_strict(analysis) is None
    assert parse_strict("<patterns>x</patterns>\n<prompt>Answer Yes or No.") == "Answer Yes or No."


def test_a_prompt_in_the_optimizers_own_closed_tag_is_taken():
    from contrastprompt.optimizers.parsing import parse_strict

    # a contrast answer of the 1.5B optimizer (public bench, TREC): analysis, then its own tag
    raw = (
        "The high-scoring ones list the labels. To keep what works:\n<instruction>\nClassify "
        "the input as a description, entity, expression, human, location, or number.\n"
        "</instruction>\nThis instruction is similar to the high-scoring ones."
    )
    assert parse_strict(raw) == (
        "Classify the input as a description, entity, expression, human, location, or number."
    )
    # ours wins over its own; an unclosed own tag is not a marked prompt
    assert parse_strict("<instruction>A b c d</instruction><prompt>Name the label.</prompt>") == (
        "Name the label."
    )
    assert parse_strict("Analysis first.\n<instruction>\nClassify it, then explain") is None


def test_reasons_without_tags_are_read_from_numbered_sections():
    from contrastprompt.optimizers.parsing import parse_reasons

    # a batched-reasons answer of the 1.5B optimizer (public bench, SIB-200 English)
    raw = (
        'Question 1:\nThe model answered "Travel" because the sentence names a resort. The '
        "instruction should say to classify by the main subject.\n\nQuestion 2:\nThe reply "
        "describes the sentence instead of naming a topic; the instruction should ask for one "
        "label."
    )
    got = parse_reasons(raw)
    assert len(got) == 2
    assert got[0].startswith('The model answered "Travel"') and "one label" in got[1]
    assert parse_reasons("For question 1: It was about sports, not travel at all.") == [
        "It was about sports, not travel at all."
    ]
    # tags win; numbering out of order could pair a reason with the wrong failure: refused
    assert parse_reasons("Question 1: a b c d e f\n<reason>Tagged reason here.</reason>") == [
        "Tagged reason here."
    ]
    assert parse_reasons("Question 2: first thing here.\nQuestion 1: second thing here.") == []


def test_a_suggested_prompt_in_quotes_is_taken_and_a_quoted_old_one_is_not():
    from contrastprompt.optimizers.parsing import parse_strict

    # a contrast answer of the 1.5B optimizer (public bench, Subj)
    raw = (
        "The high-scoring instructions (Instruction 1 and Instruction 2) both help.\nAs a new "
        'instruction, I suggest: "Given the context provided, classify the input in one of the '
        'following labels: subjective, objective. "\nThis instruction is helpful.'
    )
    assert parse_strict(raw) == (
        "Given the context provided, classify the input in one of the following labels: "
        "subjective, objective."
    )
    shown = 'Instruction 1: "Classify the input as subjective or objective." scores best.'
    assert parse_strict(shown) is None


@pytest.mark.parametrize(
    "raw,expected",
    [
        (
            "<patterns>Good ones list the labels.</patterns>\n<prompt>P</prompt>",
            "Good ones list the labels.",
        ),
        # the 1.5B optimizer's contrast answers (public bench): the analysis without its tags
        (
            "High-scoring instructions name the categories.\n\nLow-scoring ones do not.\n\n"
            "One new instruction that keeps what works is:\n\n<prompt>\nClassify the input.\n",
            "High-scoring instructions name the categories.\n\nLow-scoring ones do not.",
        ),
        (
            "### High-scoring Instructions\n- one lists labels\n\n### New Instruction\n"
            "```prompt\nClassify it.\n```",
            "### High-scoring Instructions\n- one lists labels",
        ),
        ("<prompt>Classify the input.</prompt>", ""),
        ("No prompt and no analysis marker here.", ""),
    ],
)
def test_the_analysis_before_a_prompt_is_kept_with_or_without_its_tags(raw, expected):
    from contrastprompt.optimizers.parsing import analysis

    assert analysis(raw) == expected
