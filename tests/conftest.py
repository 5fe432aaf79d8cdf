from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

SMALL = "local:smollm2-135m"  # the fast model the session's server runs, named


@pytest.fixture(scope="session")
def data_root() -> Path:
    """The benchmark data that ships inside the package (what a user gets from pip install)."""
    from contrastprompt.data.loaders import data_root as root

    d = root()
    assert (d / "bbh" / "tasks").is_dir(), f"packaged benchmark data expected at {d}"
    return d


@pytest.fixture(scope="session")
def hub():
    """One embedded-model server (real llama.cpp process over HTTP) for the whole session: the
    small SmolLM2-135M, named, for speed (`local` alone is the 1.5B)."""
    from contrastprompt.llm import ModelHub

    h = ModelHub(max_concurrency=4)
    h.start(SMALL)
    yield h
    asyncio.run(h.aclose())


@pytest.fixture(scope="session")
def local_urls(hub) -> list[str]:
    return next(iter(hub.servers.values())).base_urls
