"""`check_models()`: what is configured (keys, endpoints, installed extras) and whether it
answers; the Python API of `contrastprompt models`."""

from __future__ import annotations

import asyncio

from .config import Config
from .errors import UserError
from .llm import ModelHub


def check_models(
    extra: list[str], base_url: str | None = None, check: bool = True, measure: bool = False
) -> list[dict]:
    """What is configured (keys, endpoints, installed extras) and whether it answers. Local
    models' speeds are the ones measured on this engine build (`measure`: measure them now);
    the catalogue's figures, taken on another build, are shown only as such."""
    from importlib.util import find_spec

    from .llm import chat
    from .llm.catalogue import catalogue, installed

    candidates: list[tuple[str, bool, str]] = []
    info: dict[str, dict] = {}
    server_ok = find_spec("llama_cpp") is not None
    for m in catalogue().values():
        name = f"local:{m.name}"
        ok = server_ok and installed(m)
        info[name] = {
            "size_mb": round(m.bytes / 1e6),
            "licence": m.licence,
            "speed": local_speed(m, measure and ok) if server_ok else f"{m.speed} (catalogue)",
            "installed": ok,
        }
        candidates.append((name, ok, m.title if ok else f"not installed: {m.install_hint()}"))
    config = Config.current()
    url = base_url or config.openai_base_url
    if config.openai_api_key or url:
        candidates.append(
            ("openai:gpt-4o-mini" if not url else "openai:default", True, url or "api.openai.com")
        )
    if config.anthropic_api_key:
        ok = find_spec("anthropic") is not None
        candidates.append(
            (
                "anthropic:claude-3-5-haiku-latest",
                ok,
                "" if ok else "pip install 'contrastprompt[anthropic]'",
            )
        )
    for m in extra:
        candidates.append((m, True, ""))
    rows = []

    async def probe(hub: ModelHub, name: str) -> tuple[bool, str]:
        try:
            llm = hub.open(name, role="check")
            llm.max_tries = 2
            r = await llm.chat(chat(None, "Say OK.", max_tokens=4))
            return True, f"answered: {r.text.strip()[:20]!r}"
        except UserError as e:
            return False, str(e)
        except Exception as e:  # report, do not crash: this command is a diagnosis
            return False, f"{type(e).__name__}: {e}"[:200]

    async def run() -> None:
        hub = ModelHub(base_url=base_url)
        try:
            for name, configured, detail in candidates:
                reachable = None
                if check and configured:
                    reachable, msg = await probe(hub, name)
                    detail = f"{detail} {msg}".strip()
                rows.append(
                    {
                        "model": name,
                        "configured": configured,
                        "reachable": reachable,
                        "detail": detail,
                        **info.get(name, {}),
                    }
                )
        finally:
            await hub.aclose()

    asyncio.run(run())
    return rows


def local_speed(model: object, measure: bool = False) -> str:
    """'read / write' tokens/s of a catalogue model on this engine build: measured now
    (`measure`), else as stored from an earlier measurement on the same build, else the
    catalogue's figure marked as taken elsewhere."""
    from .llm import engine
    from .llm.catalogue import gguf_path

    name = model.name  # type: ignore[attr-defined]
    if measure:
        engine.store_speed(name, engine.measure_speed(gguf_path(model)))  # type: ignore[arg-type]
    got = engine.stored_speeds().get(name)
    if got:
        return f"{got['read']:.0f} / {got['write']:.0f}"
    return f"{model.speed} (catalogue)"  # type: ignore[attr-defined]


def engine_summary() -> dict:
    """The local engine as built and loaded here, with a one-line description."""
    from importlib.util import find_spec

    if find_spec("llama_cpp") is None:
        return {"line": "local engine: not installed (pip install 'contrastprompt[local]')"}
    from .llm import engine

    d = engine.describe()
    kind = (
        f"runtime dispatch over {len(d['variants'])} CPU variants, loaded: {d['variant']}"
        if d["variants"]
        else "one CPU variant"
    )
    d["line"] = (
        f"local engine: llama-cpp-python {d['llama_cpp_python']}, {kind}; "
        f"instructions: {' '.join(d['instructions']) or 'none beyond SSE'}"
    )
    return d
