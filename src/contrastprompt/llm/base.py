"""The one client protocol every backend and wrapper speaks: a chat request in, a response out."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class Message:
    role: str  # "system" | "user" | "assistant"
    content: str


@dataclass(frozen=True)
class ChatRequest:
    """Everything that determines an answer; it is also the cache key's content.

    `sample` distinguishes the i-th of several samples of the same request at temperature > 0,
    so N samples are N cache entries rather than one answer repeated N times.

    `until` (JSON, from `data.extract.answer_spec`) lets an engine that understands it end the
    reply once it holds its whole answer; it is part of the key only when set, so requests
    without it keep the keys they always had.
    """

    messages: tuple[Message, ...]
    temperature: float = 0.0
    max_tokens: int = 256
    seed: int | None = 0
    stop: tuple[str, ...] = ()
    sample: int = 0
    until: str = ""

    def canonical(self, model: str) -> str:
        body = asdict(self)
        if not body["until"]:
            del body["until"]
        body["messages"] = [[m.role, m.content] for m in self.messages]
        body["stop"] = list(self.stop)
        body["model"] = model
        return json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))

    def key(self, model: str) -> str:
        return hashlib.sha256(self.canonical(model).encode("utf-8")).hexdigest()


def chat(system: str | None, user: str, **params: object) -> ChatRequest:
    """Shorthand for the common system + user request."""
    msgs = ([Message("system", system)] if system else []) + [Message("user", user)]
    return ChatRequest(messages=tuple(msgs), **params)  # type: ignore[arg-type]


@dataclass
class ChatResponse:
    text: str
    finish_reason: str = "stop"
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached: bool = False
    latency: float = 0.0
    extra: dict = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(
            {
                "text": self.text,
                "finish_reason": self.finish_reason,
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
            }
        )

    @classmethod
    def from_json(cls, raw: str) -> ChatResponse:
        return cls(**json.loads(raw))


@runtime_checkable
class Backend(Protocol):
    """A thin adapter to one API. It raises `TransientLLMError` for what is worth retrying and
    `LLMError`/`EndpointError` for the rest; it never retries, caches or counts by itself."""

    model_id: str  # stable name used in cache keys and reports, e.g. "openai:gpt-4o-mini"

    async def complete(self, request: ChatRequest) -> ChatResponse: ...

    async def aclose(self) -> None: ...
