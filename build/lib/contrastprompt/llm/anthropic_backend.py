"""Anthropic's Messages API via the official SDK (extra `anthropic`). SDK retries are off."""

from __future__ import annotations

import asyncio

from ..errors import EndpointError, LLMError, TransientLLMError, UserError, redact
from .base import ChatRequest, ChatResponse
from .openai_backend import retry_after_seconds


class AnthropicBackend:
    def __init__(
        self,
        model: str,
        *,
        api_key: str | None = None,
        timeout: float = 120.0,
        bedrock: bool = False,
        base_url: str | None = None,
    ) -> None:
        try:
            import anthropic
        except ImportError:
            raise UserError(
                "the Anthropic SDK is not installed",
                field="--model",
                hint="pip install 'contrastprompt[anthropic]'",
            ) from None
        self._sdk = anthropic
        from inspect import signature

        try:
            from anthropic.resources.messages import AsyncMessages

            params = signature(AsyncMessages.create).parameters
            self._takes_temperature = "temperature" in params
        except (ImportError, AttributeError, ValueError):
            self._takes_temperature = True
        self.model = model
        self.model_id = f"{'bedrock' if bedrock else 'anthropic'}:{model}"
        self._secret = api_key or ""
        self._bedrock, self._timeout, self._base_url = bedrock, timeout, base_url
        self._client = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _client_here(self):  # noqa: ANN202 - SDK type depends on the extra being installed
        """An SDK client bound to the running event loop (see OpenAIBackend._client_here)."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            a = self._sdk
            if self._bedrock:
                self._client = a.AsyncAnthropicBedrock(max_retries=0, timeout=self._timeout)
            else:
                self._client = a.AsyncAnthropic(
                    api_key=self._secret or None,
                    max_retries=0,
                    timeout=self._timeout,
                    base_url=self._base_url,
                )
            self._loop = loop
        return self._client

    async def complete(self, request: ChatRequest) -> ChatResponse:
        a = self._sdk
        system = "\n\n".join(m.content for m in request.messages if m.role == "system")
        msgs = [
            {"role": m.role, "content": m.content} for m in request.messages if m.role != "system"
        ]
        kwargs: dict = {
            "model": self.model,
            "messages": msgs,
            "max_tokens": request.max_tokens,
        }
        # Newer SDKs dropped `temperature` from the signature; the API takes it in the body.
        temperature = min(request.temperature, 1.0)
        if self._takes_temperature:
            kwargs["temperature"] = temperature
        else:
            kwargs["extra_body"] = {"temperature": temperature}
        if system:
            kwargs["system"] = system
        if request.stop:
            kwargs["stop_sequences"] = list(request.stop)
        try:
            resp = await self._client_here().messages.create(**kwargs)
        except a.APITimeoutError:
            raise TransientLLMError("timeout from the Anthropic API") from None
        except a.APIConnectionError:
            raise TransientLLMError(
                "cannot connect to the Anthropic API",
                unreachable=self._base_url or "api.anthropic.com",
            ) from None
        except a.AuthenticationError:
            raise EndpointError(
                "the Anthropic API refused the API key", field="ANTHROPIC_API_KEY"
            ) from None
        except a.NotFoundError:
            raise EndpointError(
                f"the Anthropic API does not know model '{self.model}'", field="--model"
            ) from None
        except a.APIStatusError as e:
            msg = f"HTTP {e.status_code} from the Anthropic API: {redact(str(e), (self._secret,))}"
            if e.status_code in (408, 409, 429) or e.status_code >= 500:
                raise TransientLLMError(msg, retry_after_seconds(e.response.headers)) from None
            raise LLMError(msg) from None
        text = "".join(getattr(b, "text", "") for b in resp.content)
        finish = {"max_tokens": "length", "end_turn": "stop", "stop_sequence": "stop"}.get(
            resp.stop_reason or "", resp.stop_reason or "stop"
        )
        return ChatResponse(
            text=text,
            finish_reason=finish,
            prompt_tokens=resp.usage.input_tokens,
            completion_tokens=resp.usage.output_tokens,
        )

    async def aclose(self) -> None:
        if self._client is not None and self._loop is asyncio.get_running_loop():
            await self._client.close()
        self._client = None
