"""Configuration from the environment, read in this one place, once per process, and passed down.

Library code takes a `Config` as a parameter where it has one; where it is not given, it uses
`Config.current()`, the environment as read the first time any part of the process asked (the
CLI asks first thing). A process that changes its environment later passes a `Config` of its own
(`Config.from_env()`). Keys are kept out of `repr`, so
a config printed in a log or an exception never shows them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

FRESH_KV_CHOICES = ("sampled", "all", "none")
ENGINE_CHOICES = ("batch", "serial")


@dataclass(frozen=True)
class Config:
    openai_base_url: str | None = None
    openai_api_key: str | None = field(default=None, repr=False)
    anthropic_api_key: str | None = field(default=None, repr=False)
    data_root: Path | None = None  # CONTRASTPROMPT_DATA; None: the data in the package
    cache_path: Path | None = None  # CONTRASTPROMPT_CACHE; None: the platform's cache dir
    local_replicas: int | None = None  # CONTRASTPROMPT_LOCAL_REPLICAS
    fresh_kv: str = "sampled"  # CONTRASTPROMPT_FRESH_KV: which local requests start fresh
    request_timeout: float | None = None  # CONTRASTPROMPT_TIMEOUT: seconds per remote request
    local_engine: str = "batch"  # CONTRASTPROMPT_LOCAL_ENGINE: batch (default) or serial
    local_slots: int | None = None  # CONTRASTPROMPT_LOCAL_SLOTS: sequences the engine batches

    @classmethod
    def current(cls) -> Config:
        """The process's configuration: the environment read once, on first use."""
        global _CURRENT
        if _CURRENT is None:
            _CURRENT = cls.from_env()
        return _CURRENT

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Config:
        from .errors import UserError

        e = os.environ if env is None else env

        def path(name: str) -> Path | None:
            return Path(e[name]).expanduser() if e.get(name) else None

        def whole(name: str) -> int | None:
            value = e.get(name)
            if value and not value.isdigit():
                raise UserError(f"not a whole number: '{value}'", field=name)
            return int(value) if value else None

        replicas = whole("CONTRASTPROMPT_LOCAL_REPLICAS")
        slots = whole("CONTRASTPROMPT_LOCAL_SLOTS")
        engine = e.get("CONTRASTPROMPT_LOCAL_ENGINE") or "batch"
        if engine not in ENGINE_CHOICES:
            raise UserError(
                f"unknown value '{engine}'",
                field="CONTRASTPROMPT_LOCAL_ENGINE",
                hint="batch or serial",
            )
        fresh = e.get("CONTRASTPROMPT_FRESH_KV") or "sampled"
        if fresh not in FRESH_KV_CHOICES:
            raise UserError(
                f"unknown value '{fresh}'",
                field="CONTRASTPROMPT_FRESH_KV",
                hint="sampled, all or none",
            )
        timeout = e.get("CONTRASTPROMPT_TIMEOUT")
        try:
            seconds = float(timeout) if timeout else None
        except ValueError:
            raise UserError(
                f"not a number of seconds: '{timeout}'", field="CONTRASTPROMPT_TIMEOUT"
            ) from None
        return cls(
            openai_base_url=e.get("OPENAI_BASE_URL") or None,
            openai_api_key=e.get("OPENAI_API_KEY") or None,
            anthropic_api_key=e.get("ANTHROPIC_API_KEY") or None,
            data_root=path("CONTRASTPROMPT_DATA"),
            cache_path=path("CONTRASTPROMPT_CACHE"),
            local_replicas=replicas,
            fresh_kv=fresh,
            request_timeout=seconds,
            local_engine=engine,
            local_slots=slots,
        )


_CURRENT: Config | None = None
