"""Lenient parsing of optimizer-model output: tagged blocks first, fallbacks after.

Small optimizer models forget closing tags, wrap prompts in code fences or headings, or echo the
meta-prompt. We take the most specific thing that is there and reject what cannot be a prompt.
"""

from __future__ import annotations

import re

_HEADINGS = re.compile(
    r"(?:improved|new|revised|final|updated)\s+(?:prompt|instruction)\s*[:\-]\s*"
    # an announcement line: "Below is a better instruction that should help on every question:"
    r"|\b(?:here|below) is (?:an? |the )?(?:better|new|improved|revised|updated) "
    r"(?:prompt|instruction)\b[^\n:]{0,80}:[ \t]*\n\s*",
    re.I,
)
# a prompt the optimizer put in angle brackets of its own, closed or not: "<classify the input
# as ...>"; only when no other bracket is inside (an answer convention such as <option> stays)
_ANGLED = re.compile(r"^<([^<>]+)>?$", re.S)
# the current instruction echoed under a framing line of its own ("Given the instruction:")
_ECHO_FRAME = re.compile(r"^\s*given the (?:current |old |new )?instruction\s*:[ \t]*\n", re.I)
# The tags our meta-prompts use for structure. Only these end a block: a prompt may well contain
# other angle-bracket words, such as the answer convention "Answer: <option>".
STRUCTURAL_TAGS = ("prompt", "reason", "patterns", "question", "answer_format", "example")
# a wrapper a small optimizer puts around the prompt by itself (<instruction>, <query>, …): any
# tag that encloses the whole text, or one of the words it mirrors from us left unclosed
_WRAPPER = re.compile(r"^\s*<([a-z_]+)>\s*(.*?)\s*</\1>\s*$", re.S | re.I)
_OPEN_WRAPPER = re.compile(
    r"^\s*<(?:instructions?|new_instruction|query|answer)>\s*(.*)$", re.S | re.I
)
# a first line that only announces what follows ("Here is the new instruction:")
_INTRO = re.compile(
    r"^\s*(?:here|below|this|the new|new|improved|updated|revised|sure)\b[^\n]{0,100}:\s*\n", re.I
)
# an answer that talks about the prompts it was shown instead of being one ("The high-scoring
# instructions ensure that…"): the 1.5B optimizer wrote such analyses inside <prompt> tags
_META_TALK = re.compile(
    r"\b(?:high|low|top|bottom)[- ]scor\w* (?:instructions?|prompts?)\b"
    r"|\b(?:the|these|those) (?:reviewers?'?s?|notes)\b(?: (?:say|said|shared|point))?"
    r"|\{\{\s*\w*\s*\}\}",  # a template placeholder left unfilled: "{{checkboxes}}"
    re.I,
)
# the label of an opening code fence whose backticks were stripped: "prompt>", "text", "markdown"
_FENCE_LABEL = re.compile(r"^(?:prompt>?|text|markdown|plaintext)[ \t]*\n", re.I)
_STRUCTURAL = re.compile(r"</?(?:" + "|".join(STRUCTURAL_TAGS) + r")>", re.I)
# a closing remark about the prompt itself after it ("All feedback statements are incorporated
# into this new instruction."): it would reach the task model as part of the prompt
_AFTERWORD = re.compile(
    r"\b(?:this|the above|the) (?:new|revised|improved|updated) (?:instruction|prompt)\b"
    r"|\bincorporat\w* (?:all |the |every )?(?:feedback|reasons?|notes?|suggestions?)\b",
    re.I,
)


def tagged(text: str, tag: str) -> str | None:
    """Content of the last complete <tag>…</tag>; else what follows a lone opening tag."""
    blocks = re.findall(rf"<{tag}>\s*(.*?)\s*</{tag}>", text, re.S | re.I)
    blocks = [b for b in blocks if b.strip() and "{" + tag + "}" not in b]
    if blocks:
        return blocks[-1].strip()
    m = re.search(rf"<{tag}>\s*(.+)", text, re.S | re.I)
    if m:  # a lone opening tag (the answer was stopped at the closing one): up to the next
        return _STRUCTURAL.split(m.group(1))[0].strip() or None  # structural tag, if any
    return None


def clean(text: str) -> str:
    text = text.strip().strip("`").strip()
    text = _INTRO.sub("", text, count=1).strip().strip("`").strip()
    text = _ECHO_FRAME.sub("", text, count=1)
    text = _FENCE_LABEL.sub("", text, count=1)  # what was left of an opening fence's line
    text = _without_afterword(text)
    m = _WRAPPER.match(text)
    if m:
        text = m.group(2)
    else:
        m = _OPEN_WRAPPER.match(text)
        text = m.group(1) if m else text
    text = re.sub(r"^(?:prompt|instruction)\s*:\s*", "", text, flags=re.I)
    m = _ANGLED.match(text.strip())
    text = m.group(1) if m else text
    text = text.strip().strip('"').strip("'").strip()
    return re.sub(r"[ \t]+\n", "\n", text)


def _without_afterword(text: str) -> str:
    """The prompt without what the optimizer wrote after it: an unpaired code fence (its opening
    was stripped with the label) ends the prompt, and a last paragraph that talks about the new
    prompt is dropped. A prompt that holds a whole fenced block keeps it."""
    if text.count("```") % 2 == 1:
        text = text[: text.rfind("```")].rstrip()
    paragraphs = re.split(r"\n\s*\n", text)
    if len(paragraphs) > 1 and _AFTERWORD.search(paragraphs[-1]):
        text = "\n\n".join(paragraphs[:-1]).rstrip()
    return text


def usable_prompt(text: str | None, *, min_chars: int = 12, max_chars: int = 3000) -> str | None:
    """A prompt we are willing to score, or None."""
    if not text:
        return None
    text = clean(text)
    if not (min_chars <= len(text) <= max_chars) or len(text.split()) < 3:
        return None
    if text.endswith(":"):  # an introduction to something that never came ("Let's analyze:")
        return None
    if _STRUCTURAL.search(text):
        return None
    if _META_TALK.search(text):
        return None
    if re.fullmatch(r"[(\[]?(?:the )?(?:new|improved) prompt[)\]]?\.?", text, re.I):
        return None  # the placeholder of the answer form, copied
    return text


# the tags a small optimizer puts its prompt in by itself when it forgets ours ("write it
# between <prompt> and </prompt>" answered with <instruction>...</instruction>)
_OWN_TAGS = ("instruction", "new_instruction", "new_prompt")


# a prompt given in quotes after the words that offer it ('As a new instruction, I suggest:
# "Classify ..."'), the other way a small optimizer marks it when it forgets the tags. Only
# after such words: an analysis quotes the prompts it was shown, too
_SUGGESTED = re.compile(
    r"(?:\bI (?:suggest|propose|recommend)|\bnew (?:instruction|prompt)"
    r"(?: (?:is|would be|could be))?)[^\n\"“:]{0,30}:\s*[\"“]([^\"”]{20,})[\"”]",
    re.I,
)


def _closed_block(text: str, tags: tuple[str, ...]) -> str | None:
    """The last complete block of any of `tags`; only closed ones (an open one may run on
    into commentary)."""
    names = "|".join(tags)
    blocks = re.findall(rf"<({names})>\s*(.*?)\s*</\1>", text, re.S | re.I)
    return blocks[-1][1].strip() if blocks and blocks[-1][1].strip() else None


def parse_prompt(output: str, strict: bool = False) -> str | None:
    """The new prompt in an optimizer answer: <prompt> block, a heading, a code fence, or (not
    when `strict`) the whole answer when it is short and plain, or its first short paragraph.

    `strict` is for answers that put an analysis before the prompt (the contrast step): there the
    first paragraph is the analysis, so an answer without a marked prompt is unusable."""
    found = tagged(output, "prompt") or _closed_block(output, _OWN_TAGS)
    if found:
        return usable_prompt(found)
    quoted = _SUGGESTED.findall(output)
    if quoted:
        return usable_prompt(quoted[-1])
    parts = _HEADINGS.split(output)
    if len(parts) > 1:
        return usable_prompt(parts[-1].strip().split("\n\n")[0])
    fence = re.findall(r"```[^\n`]*\n(.*?)```", output, re.S)  # any label: ```prompt>
    if fence:
        return usable_prompt(fence[-1])
    if strict:
        return None
    if len(output) <= 600 and not _STRUCTURAL.search(output):
        return usable_prompt(output)
    # last resort for small models that ignore the format: the first paragraph, if it is short
    first = next((p for p in re.split(r"\n\s*\n", output) if p.strip()), "")
    if not _STRUCTURAL.search(first) and len(first.split()) <= 80:
        return usable_prompt(first)
    return None


def _reason_text(text: str, max_chars: int) -> str | None:
    """One reason as the meta-prompts quote it: cleaned, on one line, cut; None if too short."""
    text = " ".join(clean(text).split())
    return text[:max_chars] if len(text) >= 8 else None


# "Question 2:" / "For question 2:" at the start of a line: how a small optimizer numbers its
# explanations when it leaves out the <reason> tags
_QUESTION_HEADER = re.compile(r"^\s*(?:for )?question (\d+)\s*[:.)]", re.I | re.M)


def parse_reasons(output: str, max_chars: int = 500) -> list[str]:
    """Every <reason> block of an answer that explains several failures, in order; a last
    block left open (the answer ran out of tokens) counts if it says something. Without any
    tag, the answer's "Question 1:", "Question 2:" ... sections, if numbered 1, 2, ... in order
    (a reason must stay with its failure)."""
    found = re.findall(r"<reason>\s*(.*?)\s*(?:</reason>|(?=<reason>)|$)", output, re.S | re.I)
    if not found:
        found = _numbered_sections(output)
    return [r for r in (_reason_text(f, max_chars) for f in found) if r]


def _numbered_sections(text: str) -> list[str]:
    heads = list(_QUESTION_HEADER.finditer(text))
    if not heads or [int(h.group(1)) for h in heads] != list(range(1, len(heads) + 1)):
        return []
    ends = [h.start() for h in heads[1:]] + [len(text)]
    return [text[h.end() : e].strip() for h, e in zip(heads, ends, strict=True)]


# where an answer's prompt begins when the analysis before it was left untagged: our tag, a code
# fence, or a heading that announces it ("### New Instruction")
_PROMPT_START = re.compile(
    r"<prompt>|```|^#+\s*(?:the\s+)?(?:new|improved|revised|final|proposed)\s+(?:instruction|prompt)",
    re.I | re.M,
)
# the last line of an analysis that only hands over to the prompt ("One new instruction that
# keeps what works is:")
_INTRO_TAIL = re.compile(r"\n[^\n]{0,160}:\s*$")


def analysis(output: str, tag: str = "patterns", max_chars: int = 800) -> str:
    """What an answer says before its prompt: the <tag> block, or else the untagged text ahead
    of the prompt (a small optimizer writes its analysis but forgets the tags). Empty when there
    is none. For reports: the contrast step's analysis is what the method is named for."""
    found = tagged(output, tag)
    if found:
        return found[:max_chars]
    m = _PROMPT_START.search(output)
    if not m:
        return ""
    text = _INTRO_TAIL.sub("", output[: m.start()].strip()).strip()
    return text[:max_chars]


def parse_reason(output: str, max_chars: int = 500) -> str | None:
    return _reason_text(tagged(output, "reason") or output, max_chars)


def parse_strict(output: str) -> str | None:
    """`parse_prompt` without the plain-text fallbacks (see there)."""
    return parse_prompt(output, strict=True)


def all_tagged(text: str, tag: str, max_chars: int = 500) -> list[str]:
    """Every non-empty <tag>…</tag> block, in order; a last block left open (the answer hit its
    token limit) counts too. For answers that list several items (APO's critiques)."""
    blocks = re.findall(rf"<{tag}>\s*(.*?)\s*(?:</{tag}>|$)", text, re.S | re.I)
    out = []
    for b in blocks:
        b = " ".join(clean(re.split(rf"<{tag}>", b, flags=re.I)[0]).split())
        if len(b) >= 8 and "{" + tag + "}" not in b:
            out.append(b[:max_chars])
    return out
