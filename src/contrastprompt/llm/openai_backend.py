"""Any OpenAI-compatible chat endpoint (OpenAI, vLLM, Ollama, llama.cpp, LM Studio) via the
official SDK. The SDK's own retries are off: the shared `LLM` wrapper retries once, for all."""

from __future__ import annotations

import asyncio
import json

import openai

from ..errors import EndpointError, LLMError, TransientLLMError, redact
from .base import ChatRequest, ChatResponse


def retry_after_seconds(headers: object) -> float | None:
    try:
        value = headers.get("retry-after") if headers is not None else None  # type: ignore[attr-defined]
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


class OpenAIBackend:
    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        timeout: float = 120.0,
        model_id: str | None = None,
        extra_body: dict | None = None,
        answer_until: bool = False,
    ) -> None:
        self.model = model
        self.base_url = base_url
        self.model_id = model_id or f"openai:{model}"
        self._secret = api_key or ""
        self.extra_body = extra_body or {}
        # contrastprompt's local engine ends a reply once it holds its answer (`answer_until`);
        # other endpoints would reject or ignore the field, so it is sent only to that engine
        self.answer_until = answer_until
        self._timeout = timeout
        self._client: openai.AsyncOpenAI | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _client_here(self) -> openai.AsyncOpenAI:
        """An SDK client bound to the running event loop (its connection pool cannot outlive the
        loop, and the CLI, tests and notebooks each run their own loops)."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._client = openai.AsyncOpenAI(
                api_key=self._secret or "not-needed",
                base_url=self.base_url,
                max_retries=0,
                timeout=self._timeout,
            )
            self._loop = loop
        return self._client

    async def complete(self, request: ChatRequest) -> ChatResponse:
        kwargs: dict = {
            "model": self.model,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
        }
        if request.seed is not None:
            kwargs["seed"] = request.seed
        if request.stop:
            kwargs["stop"] = list(request.stop)
        extra = dict(self.extra_body)
        if self.answer_until and request.until:
            extra["answer_until"] = json.loads(request.until)
        if extra:
            kwargs["extra_body"] = extra
        where = self.base_url or "api.openai.com"
        try:
            resp = await self._client_here().chat.completions.create(**kwargs)
        except openai.APITimeoutError:
            raise TransientLLMError(f"timeout from {where}") from None
        except openai.APIConnectionError as e:
            raise TransientLLMError(
                f"cannot connect to {where}: {redact(str(e), (self._secret,))}", unreachable=where
            ) from None
        except openai.AuthenticationError:
            raise EndpointError(
                f"{where} refused the API key",
                field="OPENAI_API_KEY",
                hint="set a valid key in the environment",
            ) from None
        except openai.NotFoundError as e:
            raise EndpointError(
                f"{where} does not know model '{self.model}' or path: "
                f"{redact(e.message, (self._secret,))}",
                field="--model",
            ) from None
        except openai.APIStatusError as e:
            msg = f"HTTP {e.status_code} from {where}: {redact(e.message, (self._secret,))}"
            if e.status_code in (408, 409, 429) or e.status_code >= 500:
                raise TransientLLMError(msg, retry_after_seconds(e.response.headers)) from None
            raise LLMError(msg) from None
        except (openai.APIResponseValidationError, json.JSONDecodeError, ValueError) as e:
            raise TransientLLMError(
                f"unreadable response from {where}: {type(e).__name__}"
            ) from None
        if not getattr(resp, "choices", None):
            raise TransientLLMError(f"response from {where} has no choices")
        choice = resp.choices[0]
        usage = resp.usage
        return ChatResponse(
            text=choice.message.content or "",
            finish_reason=choice.finish_reason or "stop",
            prompt_tokens=getattr(usage, "prompt_tokens", 0) or 0,
            completion_tokens=getattr(usage, "completion_tokens", 0) or 0,
        )

    async def aclose(self) -> None:
        if self._client is not None and self._loop is asyncio.get_running_loop():
            await self._client.close()
        self._client = None
