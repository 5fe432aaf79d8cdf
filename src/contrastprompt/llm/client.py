"""The one request path: in-flight de-duplication, persistent cache, concurrency and rate limits,
retries with backoff, and usage accounting, wrapped once around any `Backend`."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable

from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from ..errors import EndpointError, LLMError, TransientLLMError
from .base import Backend, ChatRequest, ChatResponse
from .cache import ResponseCache
from .usage import RoleUsage, Usage, price_for

log = logging.getLogger("contrastprompt.llm")

CallHook = Callable[[str, str, ChatRequest, ChatResponse], None]


class RateLimiter:
    """At most `rpm` call starts in any 60-second window."""

    def __init__(self, rpm: float | None) -> None:
        self.rpm = rpm
        self._starts: deque[float] = deque()
        self._lock = asyncio.Lock()

    async def wait(self) -> None:
        if not self.rpm:
            return
        async with self._lock:
            while True:
                now = time.monotonic()
                while self._starts and now - self._starts[0] >= 60.0:
                    self._starts.popleft()
                if len(self._starts) < self.rpm:
                    self._starts.append(now)
                    return
                await asyncio.sleep(60.0 - (now - self._starts[0]) + 0.01)


class LLM:
    """A model in a role, ready to answer requests.

    Why one wrapper: every backend gets the same cache, limits, retries and accounting, so no
    backend re-implements them and budgets mean the same thing for every provider.
    """

    def __init__(
        self,
        backend: Backend,
        *,
        role: str = "task",
        cache: ResponseCache | None = None,
        usage: Usage | None = None,
        max_concurrency: int = 4,
        rpm: float | None = None,
        max_tries: int = 6,
        backoff_base: float = 0.5,
        backoff_max: float = 30.0,
        on_call: CallHook | None = None,
    ) -> None:
        self.backend = backend
        self.role = role
        self.cache = cache
        self.usage = usage if usage is not None else Usage()
        self.max_concurrency = max_concurrency
        self._sem: asyncio.Semaphore | None = None
        self._limiter = RateLimiter(rpm)
        self.max_tries = max_tries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._backoff = wait_exponential_jitter(
            multiplier=backoff_base, max=backoff_max, jitter=backoff_base
        )
        self.on_call = on_call
        self._inflight: dict[str, asyncio.Future[ChatResponse]] = {}
        self.price = price_for(backend.model_id)

    @property
    def model_id(self) -> str:
        return self.backend.model_id

    @property
    def stats(self) -> RoleUsage:
        return self.usage.role(self.role)

    def with_role(self, role: str) -> LLM:
        """The same backend, cache and usage book, counted under another role."""
        other = LLM(
            self.backend,
            role=role,
            cache=self.cache,
            usage=self.usage,
            max_concurrency=self.max_concurrency,
            max_tries=self.max_tries,
            backoff_base=self.backoff_base,
            backoff_max=self.backoff_max,
            on_call=self.on_call,
        )
        other._limiter = self._limiter
        return other

    def cached(self, request: ChatRequest) -> bool:
        """Whether the response cache holds an answer to this request (asking costs nothing)."""
        return self.cache is not None and self.cache.get(request.key(self.model_id)) is not None

    async def chat(self, request: ChatRequest) -> ChatResponse:
        stats = self.stats
        stats.requests += 1
        key = request.key(self.model_id)
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                stats.cache_hits += 1
                hit.cached = True
                return hit
        pending = self._inflight.get(key)
        if pending is not None:
            stats.cache_hits += 1
            resp = await asyncio.shield(pending)
            return ChatResponse(**{**resp.__dict__, "cached": True})
        fut: asyncio.Future[ChatResponse] = asyncio.get_running_loop().create_future()
        self._inflight[key] = fut
        try:
            resp = await self._call(request, stats)
            if self.cache is not None:
                self.cache.put(key, self.model_id, resp)
            fut.set_result(resp)
            if self.on_call is not None:
                self.on_call(self.role, key, request, resp)
            return resp
        except BaseException as e:
            fut.set_exception(e)
            fut.exception()  # mark retrieved: waiters re-raise it, nobody else must
            raise
        finally:
            self._inflight.pop(key, None)

    def _wait(self, state: RetryCallState) -> float:
        delay = self._backoff(state)
        err = state.outcome.exception() if state.outcome else None
        if isinstance(err, TransientLLMError) and err.retry_after is not None:
            delay = max(delay, min(err.retry_after, 120.0))  # honour Retry-After, within reason
        return delay

    def _before_sleep(self, state: RetryCallState) -> None:
        self.stats.retries += 1
        err = state.outcome.exception() if state.outcome else None
        log.warning(
            "%s: %s; retry %d/%d", self.model_id, err, state.attempt_number, self.max_tries - 1
        )

    async def _call(self, request: ChatRequest, stats: RoleUsage) -> ChatResponse:
        if self._sem is None:
            self._sem = asyncio.Semaphore(self.max_concurrency)
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(TransientLLMError),
            stop=stop_after_attempt(self.max_tries),
            wait=self._wait,
            before_sleep=self._before_sleep,
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    async with self._sem:
                        await self._limiter.wait()
                        t0 = time.monotonic()
                        resp = await self.backend.complete(request)
        except TransientLLMError as e:
            stats.failures += 1
            where = e.unreachable
            local_log = getattr(getattr(self.backend, "server", None), "log_path", None)
            if where and local_log is not None:  # our own server died: its log says why
                raise EndpointError(
                    f"the local server of {self.model_id} stopped answering ({where})",
                    field="--model",
                    hint=f"see {local_log}; run the same command again to resume",
                ) from None
            if where:
                raise EndpointError(
                    f"cannot reach {where} after {self.max_tries} tries",
                    field="--base-url",
                    hint="check the address and that the server is up",
                ) from None
            raise LLMError(f"{self.model_id}: gave up after {self.max_tries} tries: {e}") from None
        except LLMError:
            stats.failures += 1
            raise
        resp.latency = time.monotonic() - t0
        stats.add_call(resp.prompt_tokens, resp.completion_tokens, resp.finish_reason, self.price)
        return resp

    async def aclose(self) -> None:
        await self.backend.aclose()
