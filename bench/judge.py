"""One check shared by the bench scripts: is a written prompt a request for more information
(or a reply to one question) rather than an instruction for the task? A regex, so every bench
that reports an "instruction share" also prints the prompts for a reader to judge."""

from __future__ import annotations

import re

ASKS_FOR_INFO = re.compile(
    r"please (provide|give|share|tell|specify|enter)|provide (me|us) with|\bcould you\b|"
    r"\bcan you (provide|tell|give|share)|current date|today's date|"
    r"ask (the )?(customer|user) (for|to)|for more (specific )?information|\bthe answer is\b",
    re.I,
)
# talk about the meta-prompt instead of an instruction: "Let's analyze the notes shared:",
# "Find what these notes have in common: …", "Neither of these notes …"
ECHO = re.compile(r"\bnotes?\b|^\s*let'?s analy|^\s*find what|\breviewer\b|high-scoring", re.I)


def is_instruction(text: str) -> bool:
    return (
        not ASKS_FOR_INFO.search(text)
        and not ECHO.search(text)
        and not text.strip().endswith(("?", ":"))
    )
