"""A persistent response cache in SQLite, shared by every backend.

Keys are SHA-256 of the canonical request (model, messages, parameters, seed, sample index), so
they hit across processes and runs, unlike Python's salted `hash()`.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

from .base import ChatResponse


class ResponseCache:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, model TEXT, "
            "response TEXT NOT NULL, created REAL)"
        )

    def get(self, key: str) -> ChatResponse | None:
        with self._lock:
            row = self._db.execute("SELECT response FROM responses WHERE key=?", (key,)).fetchone()
        return ChatResponse.from_json(row[0]) if row else None

    def put(self, key: str, model: str, response: ChatResponse) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO responses VALUES (?,?,?,?)",
                (key, model, response.to_json(), time.time()),
            )

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()
