"""One model served by several endpoints (replicas of vLLM, llama.cpp or TGI with no balancer in
front): each request goes to the endpoint with the fewest requests in flight.

Why here and not in front of the wrapper: the `LLM` wrapper's cache, limits, retries and usage
see one model; the pool only chooses where a request goes. A request whose endpoint fails with a
retriable error (connection refused, timeout, 429, 5xx) is sent at once to another endpoint; an
endpoint that fails `strikes` times in a row is set aside for `cooldown` seconds with a warning,
then given requests again. Only when every endpoint fails does the request fail, as a retriable
error without an address, so the wrapper backs off and retries and, when its tries are spent,
stops the run as an endpoint failure (exit 3), with everything finished already stored.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from ..errors import TransientLLMError
from .base import Backend, ChatRequest, ChatResponse

log = logging.getLogger("contrastprompt.llm")


@dataclass
class Endpoint:
    backend: Backend
    name: str
    inflight: int = 0
    strikes: int = 0
    aside_until: float = 0.0
    served: int = 0
    failed: int = 0
    set_aside: int = 0


class PoolBackend:
    """Several backends for one model, used as one `Backend`."""

    def __init__(
        self,
        backends: list[Backend],
        names: list[str],
        model_id: str,
        *,
        strikes: int = 3,
        cooldown: float = 30.0,
    ) -> None:
        if len(backends) != len(names) or not backends:
            raise ValueError("a pool needs one name per backend, and at least one")
        self.endpoints = [Endpoint(b, n) for b, n in zip(backends, names, strict=True)]
        self.model_id = model_id
        self.strikes, self.cooldown = strikes, cooldown

    @property
    def size(self) -> int:
        return len(self.endpoints)

    def _pick(self, tried: set[int]) -> Endpoint | None:
        """The endpoint with the fewest in flight among those not tried for this request and not
        set aside (the earliest listed on a tie)."""
        now = time.monotonic()
        ready = [
            (e.inflight, i, e)
            for i, e in enumerate(self.endpoints)
            if i not in tried and e.aside_until <= now
        ]
        return min(ready, key=lambda t: t[:2])[2] if ready else None

    def _failed(self, ep: Endpoint, err: Exception) -> None:
        ep.failed += 1
        ep.strikes += 1
        if ep.strikes >= self.strikes and ep.aside_until <= time.monotonic():
            ep.aside_until = time.monotonic() + self.cooldown
            ep.set_aside += 1
            log.warning(
                "%s: endpoint %s set aside for %.0f s after %d failures in a row (%s)",
                self.model_id,
                ep.name,
                self.cooldown,
                ep.strikes,
                err,
            )

    async def complete(self, request: ChatRequest) -> ChatResponse:
        tried: set[int] = set()
        last: Exception | None = None
        while (ep := self._pick(tried)) is not None:
            tried.add(self.endpoints.index(ep))
            ep.inflight += 1
            try:
                resp = await ep.backend.complete(request)
            except TransientLLMError as e:
                self._failed(ep, e)
                last = e
                continue
            finally:
                ep.inflight -= 1
            ep.strikes = 0
            ep.served += 1
            return resp
        why = f"{last}" if last else "every endpoint is set aside"
        raise TransientLLMError(
            f"all {self.size} endpoints of {self.model_id} failed: {why}",
            retry_after=self._next_ready(),
        )

    def _next_ready(self) -> float | None:
        """Seconds until the first set-aside endpoint is tried again (a floor for the backoff)."""
        now = time.monotonic()
        waits = [e.aside_until - now for e in self.endpoints if e.aside_until > now]
        return min(waits) if len(waits) == self.size else None

    def report(self) -> list[dict]:
        """Per endpoint: requests answered, failures, times set aside."""
        return [
            {"endpoint": e.name, "served": e.served, "failed": e.failed, "set_aside": e.set_aside}
            for e in self.endpoints
        ]

    async def aclose(self) -> None:
        for e in self.endpoints:
            await e.backend.aclose()
