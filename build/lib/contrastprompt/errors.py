"""Errors a user can act on.

`UserError` means the input or the configuration is wrong: the CLI prints its one-line message and
exits with code 2. Anything else that escapes is an internal error (exit 1, details logged).
"""

from __future__ import annotations

import re


class UserError(Exception):
    """Bad input or configuration; the message names the file, line, field or setting."""

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        line: int | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.source, self.line, self.field, self.hint = source, line, field, hint
        where = ""
        if source:
            where = source + (f":{line}" if line is not None else "")
        parts = [p for p in (where, f"field '{field}'" if field else "") if p]
        prefix = ", ".join(parts)
        text = f"{prefix}: {message}" if prefix else message
        if hint:
            text += f" ({hint})"
        super().__init__(redact(text))


class LLMError(Exception):
    """An LLM request failed for good (after retries, or a non-retriable answer)."""


class TransientLLMError(LLMError):
    """A failure worth retrying: 429, 5xx, timeout, connection reset, unreadable body."""

    def __init__(
        self, message: str, retry_after: float | None = None, unreachable: str | None = None
    ) -> None:
        super().__init__(redact(message))
        self.retry_after = retry_after
        self.unreachable = unreachable  # the address, when the connection itself failed


class EndpointError(UserError):
    """The endpoint is unreachable or refuses us for good (bad key, unknown model)."""


_SECRET = re.compile(
    r"(sk-[A-Za-z0-9_\-]{6,}|Bearer\s+\S+|"
    r"(?i:api[_-]?key)(?:\"\s*:\s*\"|\s*=\s*[\"']?)[^\s\"',}]{6,})"
)


def redact(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Remove anything that looks like an API key before a message is shown, logged or stored."""
    for s in secrets:
        if s and len(s) >= 6:
            text = text.replace(s, "***")
    return _SECRET.sub("***", text)
