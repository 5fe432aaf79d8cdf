from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("CONTRASTPROMPT_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def data_root() -> Path:
    assert (DATA / "bbh" / "tasks").is_dir(), f"benchmark data expected at {DATA}"
    return DATA


@pytest.fixture(scope="session")
def hub():
    """One embedded-model server (real llama.cpp process over HTTP) for the whole session."""
    from contrastprompt.llm import ModelHub

    h = ModelHub(max_concurrency=4)
    h.backend("local")
    yield h
    asyncio.run(h.aclose())


@pytest.fixture(scope="session")
def local_urls(hub) -> list[str]:
    return next(iter(hub.servers.values())).base_urls
