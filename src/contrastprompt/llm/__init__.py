"""LLM layer: one async protocol, thin backends, and one wrapper (`LLM`) for the shared concerns.

Model strings are `provider:model`: `openai:gpt-4o-mini`, `anthropic:claude-…`, `bedrock:…`,
`litellm:…`, `local:<name>` (a named local model from `catalogue.json`; `local` alone is
Qwen2.5-Coder-1.5B, the one of the `local` extra that answers the public tasks above chance),
`gguf:/path/file.gguf`.
"""

from __future__ import annotations

from pathlib import Path

from ..config import Config
from ..errors import UserError
from .base import Backend, ChatRequest, ChatResponse, Message, chat
from .cache import ResponseCache
from .catalogue import gguf_path, lookup
from .client import LLM, CallHook
from .local import LocalBackend, LocalServer
from .openai_backend import OpenAIBackend
from .pool import PoolBackend
from .usage import RoleUsage, Usage

__all__ = [
    "LLM",
    "Backend",
    "ChatRequest",
    "ChatResponse",
    "Message",
    "ModelHub",
    "ResponseCache",
    "RoleUsage",
    "Usage",
    "canonical_model",
    "model_name",
    "chat",
    "default_optimizer_model",
    "parse_model",
]

PROVIDERS = ("openai", "anthropic", "bedrock", "litellm", "local", "gguf")
DEFAULT_CONCURRENCY = 4  # requests in flight to a remote endpoint when none is given
# the task model of `local` and of no --model: SmolLM2-135M names no TREC label in 97% of its
# replies (docs/benchmarks/public.md); the small models stay for plumbing and speed, by name
DEFAULT_LOCAL = "qwen2.5-coder-1.5b"
DEFAULT_LOCAL_OPTIMIZER = "qwen2.5-coder-1.5b"
_LOCAL_ALIASES = {"smollm2": "smollm2-135m"}


def parse_model(model: str) -> tuple[str, str]:
    """Split a model string into (provider, name); a clear error for unknown providers."""
    model = model.strip()
    if model == "local":
        return "local", DEFAULT_LOCAL
    if model.startswith("local:"):
        name = model.split(":", 1)[1]
        return "local", _LOCAL_ALIASES.get(name, name)
    provider, sep, name = model.partition(":")
    if not sep or not name:
        raise UserError(
            f"model '{model}' has no provider",
            field="--model",
            hint="use provider:model, e.g. openai:gpt-4o-mini, anthropic:…, local, "
            "gguf:/path/model.gguf",
        )
    if provider not in PROVIDERS:
        raise UserError(
            f"unknown provider '{provider}' in '{model}'",
            field="--model",
            hint="known: " + ", ".join(PROVIDERS),
        )
    return provider, name


def canonical_model(model: str) -> str:
    """One name per model in stores and reports: `local` is `local:qwen2.5-coder-1.5b` and
    `local:smollm2` is `local:smollm2-135m`; other strings are kept as given."""
    provider, name = parse_model(model)
    return f"local:{name}" if provider == "local" else model.strip()


def model_name(model: str | Backend) -> str:
    """The name stores and reports use for a model string or an opened backend."""
    return canonical_model(model) if isinstance(model, str) else model.model_id


def default_optimizer_model(model: str | Backend) -> str | Backend:
    """The optimizer model when none is given: for a local task model, the local model that can
    write instructions (a 135M model cannot; see the README), else the task model itself."""
    if isinstance(model, str) and parse_model(model)[0] == "local":
        return f"local:{DEFAULT_LOCAL_OPTIMIZER}"
    return model


class ModelHub:
    """Opens models by string and owns what they need: local server processes (one per GGUF,
    shared by roles), the response cache and the usage book. Close it (or use `with`) to stop
    the servers."""

    def __init__(
        self,
        *,
        cache: ResponseCache | None = None,
        usage: Usage | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        max_concurrency: int | None = None,
        rpm: float | None = None,
        max_tries: int = 6,
        timeout: float = 120.0,
        on_call: CallHook | None = None,
        log_dir: str | Path | None = None,
        models_dir: Path | None = None,
        config: Config | None = None,
    ) -> None:
        self.config = config or Config.current()
        if self.config.request_timeout:
            timeout = self.config.request_timeout
        self.models_dir = models_dir
        self.cache = cache
        self.usage = usage if usage is not None else Usage()
        self.base_url = base_url
        self.api_key = api_key
        self.max_concurrency = max_concurrency
        self.rpm = rpm
        self.max_tries = max_tries
        self.timeout = timeout
        self.on_call = on_call
        self.log_dir = log_dir
        self.servers: dict[Path, LocalServer] = {}
        self._backends: dict[str, Backend] = {}

    def backend(self, model: str | Backend) -> Backend:
        """The backend for a model string; a `Backend` object passes through (tests, custom
        clients)."""
        if not isinstance(model, str):
            return model
        if model in self._backends:
            return self._backends[model]
        provider, name = parse_model(model)
        b: Backend
        if provider in ("local", "gguf"):
            replicas = None
            if provider == "local":
                entry = lookup(name)
                path, model_id = gguf_path(entry, self.models_dir), f"local:{name}"
                replicas = entry.replicas
            else:
                path = Path(name).expanduser()
                model_id = f"gguf:{path.name}"
            server = self.servers.get(path)
            if server is None:  # one server (set of processes) per model, started on first use
                server = LocalServer(
                    path,
                    log_dir=self.log_dir,
                    replicas=self.config.local_replicas or replicas,
                    fresh_kv=self.config.fresh_kv,
                    engine=self.config.local_engine,
                    slots=self.config.local_slots,
                )
                self.servers[path] = server
            b = LocalBackend(server, model_id, self.timeout)
        elif provider == "openai":
            base_url = self.base_url or self.config.openai_base_url
            key = self.api_key or self.config.openai_api_key
            if not key and not base_url:
                raise UserError(
                    "OPENAI_API_KEY is not set",
                    field="OPENAI_API_KEY",
                    hint="export it, or give --base-url for a keyless local endpoint",
                )
            b = self._openai(name, base_url, key)
        elif provider in ("anthropic", "bedrock"):
            from .anthropic_backend import AnthropicBackend

            key = self.api_key or self.config.anthropic_api_key
            if provider == "anthropic" and not key:
                raise UserError(
                    "ANTHROPIC_API_KEY is not set",
                    field="ANTHROPIC_API_KEY",
                    hint="export it to use anthropic:<model>",
                )
            b = AnthropicBackend(
                name, api_key=key, timeout=self.timeout, bedrock=provider == "bedrock"
            )
        else:
            from .litellm_backend import LiteLLMBackend

            b = LiteLLMBackend(name, timeout=self.timeout)
        self._backends[model] = b
        return b

    def _openai(self, name: str, base_url: str | None, key: str | None) -> Backend:
        """One endpoint, or a pool when `base_url` lists several (comma-separated): the same
        model on each, so the model id (and the cache key) is the first endpoint's, whatever
        the others."""
        urls = [u.strip() for u in (base_url or "").split(",") if u.strip()]
        if len(urls) <= 1:
            return OpenAIBackend(
                name,
                base_url=base_url,
                api_key=key,
                timeout=self.timeout,
                model_id=f"openai:{name}" if not base_url else f"openai:{name}@{base_url}",
            )
        model_id = f"openai:{name}@{urls[0]}"
        each = [
            OpenAIBackend(name, base_url=u, api_key=key, timeout=self.timeout, model_id=model_id)
            for u in urls
        ]
        return PoolBackend(each, urls, model_id)

    def start(self, model: str | Backend) -> Backend:
        """Open a model and, if it is local, start its server now rather than on first use."""
        b = self.backend(model)
        if isinstance(b, LocalBackend):
            b.start()
        return b

    def local_server(self, model: str) -> LocalServer:
        """Start a local model's server (`local:<name>` or `gguf:<path>`) and return it, for a
        client of its own (its `base_urls` are OpenAI-compatible); any other model is refused
        before anything starts."""
        if parse_model(model)[0] not in ("local", "gguf"):
            raise UserError(f"'{model}' is not a local model", field="model", hint="local:<name>")
        backend = self.start(model)
        assert isinstance(backend, LocalBackend)
        return backend.server

    def open(
        self, model: str | Backend, role: str = "task", max_concurrency: int | None = None
    ) -> LLM:
        backend = self.backend(model)
        limit = max_concurrency or self.max_concurrency
        # local servers say how many requests they serve at once; unset, that is the limit
        capacity = getattr(backend, "capacity", None)
        if capacity:
            limit = min(limit, capacity) if limit else capacity
        limit = limit or DEFAULT_CONCURRENCY * getattr(backend, "size", 1)  # per endpoint
        return LLM(
            backend,
            role=role,
            cache=self.cache,
            usage=self.usage,
            max_concurrency=limit,
            rpm=self.rpm,
            max_tries=self.max_tries,
            on_call=self.on_call,
        )

    async def aclose(self) -> None:
        for b in self._backends.values():
            await b.aclose()
        self._backends.clear()
        self.close()

    def close(self) -> None:
        for s in self.servers.values():
            s.stop()
        self.servers.clear()

    def __enter__(self) -> ModelHub:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
