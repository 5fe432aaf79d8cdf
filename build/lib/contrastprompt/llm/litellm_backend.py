"""LiteLLM (optional extra `litellm`): one more route to many providers. LiteLLM's own retries are
off; the shared wrapper retries."""

from __future__ import annotations

from ..errors import EndpointError, LLMError, TransientLLMError, UserError
from .base import ChatRequest, ChatResponse


class LiteLLMBackend:
    def __init__(self, model: str, *, timeout: float = 120.0) -> None:
        try:
            import litellm
        except ImportError:
            raise UserError(
                "LiteLLM is not installed",
                field="--model",
                hint="pip install 'contrastprompt[litellm]'",
            ) from None
        self._litellm = litellm
        self.model = model
        self.model_id = f"litellm:{model}"
        self.timeout = timeout

    async def complete(self, request: ChatRequest) -> ChatResponse:
        lt = self._litellm
        kwargs: dict = {
            "model": self.model,
            "temperature": request.temperature,
            "max_tokens": request.max_tokens,
            "num_retries": 0,
            "timeout": self.timeout,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
        }
        if request.seed is not None:
            kwargs["seed"] = request.seed
        if request.stop:
            kwargs["stop"] = list(request.stop)
        try:
            resp = await lt.acompletion(**kwargs)
        except lt.AuthenticationError:
            raise EndpointError(
                f"the provider refused the API key for '{self.model}'", field="--model"
            ) from None
        except Exception as e:  # LiteLLM maps every provider error onto status codes
            status = getattr(e, "status_code", None)
            if status is None or status in (408, 409, 429) or status >= 500:
                raise TransientLLMError(f"{type(e).__name__} from LiteLLM ({self.model})") from None
            raise LLMError(f"HTTP {status} from LiteLLM ({self.model})") from None
        choice = resp.choices[0]
        return ChatResponse(
            text=choice.message.content or "",
            finish_reason=choice.finish_reason or "stop",
            prompt_tokens=resp.usage.prompt_tokens,
            completion_tokens=resp.usage.completion_tokens,
        )

    async def aclose(self) -> None:
        return None
