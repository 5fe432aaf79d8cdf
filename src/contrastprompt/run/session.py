"""One way to open a run: its store, its response cache, its models and the event loop that
drives them, closed in the right order whatever happens. optimize, adapt and evaluate all open
their runs here, so a model opened for a run always records its calls and is always closed."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from ..config import Config
from ..errors import redact
from ..llm import ChatRequest, ChatResponse, ModelHub, ResponseCache
from ..store import Store

T = TypeVar("T")


class RunSession:
    """Store (optional), cache (optional) and a model hub for one run.

    `models` maps each role ("task", "optimizer", "test") to the model name recorded for it:
    with a store and a run id, every call that reaches a model is stored by role, which is what
    usage and cost are computed from."""

    def __init__(
        self,
        *,
        store: Store | None = None,
        run_id: int = 0,
        cache: ResponseCache | None = None,
        models: dict[str, str] | None = None,
        base_url: str | None = None,
        concurrency: int | None = None,
        log_dir: Path | None = None,
        config: Config | None = None,
    ) -> None:
        self.store, self.run_id, self.cache = store, run_id, cache
        self.models = models or {}
        record = self._record if store is not None and run_id else None
        self.hub = ModelHub(
            cache=cache,
            base_url=base_url,
            max_concurrency=concurrency,
            on_call=record,
            log_dir=log_dir,
            config=config,
        )

    def _record(self, role: str, key: str, req: ChatRequest, resp: ChatResponse) -> None:
        assert self.store is not None
        self.store.add_call(
            self.run_id,
            role,
            self.models.get(role, ""),
            key,
            resp.prompt_tokens,
            resp.completion_tokens,
            resp.finish_reason,
            resp.latency,
        )

    def run(self, work: Callable[[ModelHub], Awaitable[T]]) -> T:
        """Run `work(hub)` in a fresh event loop; the hub's clients are closed when it ends."""

        async def go() -> T:
            try:
                return await work(self.hub)
            finally:
                await self.hub.aclose()

        return asyncio.run(go())

    def stopped(self, exc: BaseException) -> None:
        """Record in the store why the run stopped (Ctrl-C, a dead endpoint, a bug)."""
        if self.store is not None and self.run_id:
            why = "interrupted" if isinstance(exc, KeyboardInterrupt) else type(exc).__name__
            self.store.finish_run(self.run_id, "stopped", f"{why}: {redact(str(exc))[:300]}")

    def close(self, keep_store: bool = False) -> None:
        """Stop the local servers and close the cache, and the store unless the caller still
        writes to it (the outputs of a finished run)."""
        self.hub.close()
        if self.cache is not None:
            self.cache.close()
        if self.store is not None and not keep_store:
            self.store.close()
