"""The run's durable record in SQLite (WAL): prompts, per-example evaluations, LLM calls, events
and iteration state. Each finished unit of work is one transaction, so a killed run loses at most
the requests that were in flight, and a resumed run reads back everything else."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .data.task import Record

# a model id's price in dollars per million (prompt, completion) tokens, or None if unknown
Pricing = Callable[[str], tuple[float, float] | None]

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (id INTEGER PRIMARY KEY, kind TEXT, task TEXT, settings TEXT,
    fingerprint TEXT, created REAL, updated REAL, status TEXT, stop_reason TEXT);
CREATE TABLE IF NOT EXISTS prompts (run_id INTEGER, hash TEXT, text TEXT, origin TEXT,
    iteration INTEGER, parents TEXT, meta TEXT, seq INTEGER, PRIMARY KEY (run_id, hash));
CREATE TABLE IF NOT EXISTS evaluations (run_id INTEGER, prompt_hash TEXT, split TEXT,
    example_id TEXT, input TEXT, output TEXT, extracted TEXT, target TEXT, score REAL,
    finish_reason TEXT, created REAL, PRIMARY KEY (run_id, prompt_hash, split, example_id));
CREATE TABLE IF NOT EXISTS llm_calls (id INTEGER PRIMARY KEY AUTOINCREMENT, run_id INTEGER,
    role TEXT, model TEXT, key TEXT, prompt_tokens INTEGER, completion_tokens INTEGER,
    finish_reason TEXT, latency REAL, created REAL);
CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY AUTOINCREMENT, run_id INTEGER,
    iteration INTEGER, kind TEXT, data TEXT, created REAL);
CREATE TABLE IF NOT EXISTS state (run_id INTEGER, key TEXT, value TEXT,
    PRIMARY KEY (run_id, key));
"""


def empty_totals() -> dict[str, Any]:
    """The call totals of a role with no call yet (what `Store.call_totals` adds up from)."""
    return {
        "calls": 0,
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "length_stops": 0,
        "models": [],
        "cost": 0.0,
    }


def prompt_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class Store:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self.db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)

    def _exec(self, sql: str, args: tuple = ()) -> sqlite3.Cursor:
        with self._lock:
            return self.db.execute(sql, args)

    def _query(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self.db.execute(sql, args).fetchall()

    # runs
    def new_run(self, kind: str, task: str, settings: dict, fingerprint: str = "") -> int:
        now = time.time()
        cur = self._exec(
            "INSERT INTO runs (kind, task, settings, fingerprint, created, updated, "
            "status) VALUES (?,?,?,?,?,?,?)",
            (kind, task, json.dumps(settings, sort_keys=True), fingerprint, now, now, "running"),
        )
        return int(cur.lastrowid)

    def update_run_settings(self, run_id: int, settings: dict, fingerprint: str) -> None:
        """Rewrite a run's settings (a run made before a settings key existed gains it)."""
        self._exec(
            "UPDATE runs SET settings=?, fingerprint=?, updated=? WHERE id=?",
            (json.dumps(settings, sort_keys=True), fingerprint, time.time(), run_id),
        )

    def find_run(self, kind: str) -> sqlite3.Row | None:
        rows = self._query("SELECT * FROM runs WHERE kind=? ORDER BY id DESC LIMIT 1", (kind,))
        return rows[0] if rows else None

    def finish_run(self, run_id: int, status: str, stop_reason: str | None) -> None:
        self._exec(
            "UPDATE runs SET status=?, stop_reason=?, updated=? WHERE id=?",
            (status, stop_reason, time.time(), run_id),
        )

    # prompts
    def add_prompt(
        self,
        run_id: int,
        text: str,
        origin: str,
        iteration: int,
        parents: list[str] | None = None,
        meta: dict | None = None,
    ) -> tuple[str, bool]:
        """Returns (hash, is_new). An identical prompt is stored once (dedup by content)."""
        h = prompt_hash(text)
        with self._lock:
            exists = self.db.execute(
                "SELECT 1 FROM prompts WHERE run_id=? AND hash=?", (run_id, h)
            ).fetchone()
            if exists:
                return h, False
            seq = self.db.execute(
                "SELECT COALESCE(MAX(seq), -1) + 1 FROM prompts WHERE run_id=?", (run_id,)
            ).fetchone()[0]
            self.db.execute(
                "INSERT INTO prompts VALUES (?,?,?,?,?,?,?,?)",
                (
                    run_id,
                    h,
                    text,
                    origin,
                    iteration,
                    json.dumps(parents or []),
                    json.dumps(meta or {}),
                    seq,
                ),
            )
        return h, True

    def prompts(self, run_id: int) -> list[dict]:
        rows = self._query("SELECT * FROM prompts WHERE run_id=? ORDER BY seq", (run_id,))
        return [
            dict(r) | {"parents": json.loads(r["parents"]), "meta": json.loads(r["meta"])}
            for r in rows
        ]

    # evaluations
    def add_record(self, run_id: int, phash: str, split: str, rec: Record) -> None:
        self._exec(
            "INSERT OR IGNORE INTO evaluations VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                run_id,
                phash,
                split,
                rec.example_id,
                rec.input,
                rec.output,
                rec.extracted,
                rec.target,
                rec.score,
                rec.finish_reason,
                time.time(),
            ),
        )

    def records(self, run_id: int, phash: str, split: str) -> dict[str, Record]:
        rows = self._query(
            "SELECT * FROM evaluations WHERE run_id=? AND prompt_hash=? AND split=?",
            (run_id, phash, split),
        )
        return {
            r["example_id"]: Record(
                example_id=r["example_id"],
                input=r["input"],
                output=r["output"],
                extracted=r["extracted"],
                target=r["target"],
                score=r["score"],
                finish_reason=r["finish_reason"],
                cached=True,
            )
            for r in rows
        }

    def count_split(self, run_id: int, split: str) -> int:
        return self._query(
            "SELECT count(*) FROM evaluations WHERE run_id=? AND split=?", (run_id, split)
        )[0][0]

    def prompt(self, run_id: int, phash: str) -> dict:
        r = self._query("SELECT * FROM prompts WHERE run_id=? AND hash=?", (run_id, phash))[0]
        return dict(r) | {"parents": json.loads(r["parents"]), "meta": json.loads(r["meta"])}

    def has_call(self, run_id: int, key: str) -> bool:
        """Whether this run already paid for a request with this cache key (a replay)."""
        sql = "SELECT 1 FROM llm_calls WHERE run_id=? AND key=? LIMIT 1"
        return bool(self._query(sql, (run_id, key)))

    def call_totals(self, run_id: int, price_for: Pricing | None = None) -> dict[str, dict]:
        """Real endpoint calls per role over the whole run, across the processes that resumed
        it, with their cost priced per model by `price_for` (None when a model's price is
        unknown, or no pricing is given: prices belong to the LLM layer, not the store)."""
        rows = self._query(
            "SELECT role, model, count(*) AS calls, sum(prompt_tokens) AS pt, "
            "sum(completion_tokens) AS ct, sum(finish_reason='length') AS ls "
            "FROM llm_calls WHERE run_id=? GROUP BY role, model",
            (run_id,),
        )
        out: dict[str, dict] = {}
        for r in rows:
            d = out.setdefault(r["role"], empty_totals())
            d["calls"] += r["calls"]
            d["prompt_tokens"] += r["pt"] or 0
            d["completion_tokens"] += r["ct"] or 0
            d["length_stops"] += r["ls"] or 0
            d["models"].append(r["model"])
            price = price_for(r["model"]) if price_for else None
            d["cost"] = (
                None
                if price is None or d["cost"] is None
                else d["cost"] + ((r["pt"] or 0) * price[0] + (r["ct"] or 0) * price[1]) / 1e6
            )
        return out

    # llm calls and events
    def add_call(
        self,
        run_id: int,
        role: str,
        model: str,
        key: str,
        prompt_tokens: int,
        completion_tokens: int,
        finish_reason: str,
        latency: float,
    ) -> None:
        self._exec(
            "INSERT INTO llm_calls (run_id, role, model, key, prompt_tokens, "
            "completion_tokens, finish_reason, latency, created) VALUES (?,?,?,?,?,?,?,?,?)",
            (
                run_id,
                role,
                model,
                key,
                prompt_tokens,
                completion_tokens,
                finish_reason,
                latency,
                time.time(),
            ),
        )

    def add_event(self, run_id: int, iteration: int, kind: str, data: dict) -> None:
        self._exec(
            "INSERT INTO events (run_id, iteration, kind, data, created) VALUES (?,?,?,?,?)",
            (run_id, iteration, kind, json.dumps(data), time.time()),
        )

    def events(self, run_id: int, kind: str | None = None, distinct: bool = False) -> list[dict]:
        """The run's events in order. `distinct` keeps the first of events alike in kind,
        iteration and data: a resumed run replays its path and records again what it replays
        (the same reasons, from the cache), which a report shows once."""
        sql = (
            "SELECT * FROM events WHERE run_id=?" + (" AND kind=?" if kind else "") + " ORDER BY id"
        )
        rows = self._query(sql, (run_id, kind) if kind else (run_id,))
        out = [dict(r) | {"data": json.loads(r["data"])} for r in rows]
        if not distinct:
            return out
        seen: set[tuple] = set()
        kept = []
        for ev in out:
            key = (ev["kind"], ev["iteration"], json.dumps(ev["data"], sort_keys=True))
            if key not in seen:
                seen.add(key)
                kept.append(ev)
        return kept

    # state
    def set_state(self, run_id: int, key: str, value: Any) -> None:
        self._exec("INSERT OR REPLACE INTO state VALUES (?,?,?)", (run_id, key, json.dumps(value)))

    def get_state(self, run_id: int, key: str, default: Any = None) -> Any:
        rows = self._query("SELECT value FROM state WHERE run_id=? AND key=?", (run_id, key))
        return json.loads(rows[0][0]) if rows else default

    def close(self) -> None:
        with self._lock:
            self.db.close()


# ---- read-only queries on a run dir's store, for the bench, adapt and scripts ----------------


def has_store(run_dir: Path) -> bool:
    """Whether a run dir still holds its store (results kept without it are read from their
    JSON files instead)."""
    return (run_dir / "store.sqlite").is_file()


def query_store(run_dir: Path, sql: str, params: tuple | list = ()) -> list[tuple]:
    """Rows of one query on a run's store, opened read-only (a running bench may be writing)."""
    con = sqlite3.connect(f"file:{run_dir / 'store.sqlite'}?mode=ro", uri=True)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def answer_tally(run_dir: Path, prompt: str) -> tuple[dict[str, int], dict[str, int]]:
    """The test items scored under `prompt`, counted by target and by the answer the model gave
    ('' when the reply named none), in one query. The most common target is what a prompt
    scores that only makes the model give one answer to everything (a small model's usual
    'gain'); the answers show whether a prompt did just that, whatever its accuracy."""
    rows = query_store(
        run_dir,
        "SELECT target, COALESCE(extracted, ''), COUNT(*) FROM evaluations WHERE split='test' "
        "AND prompt_hash=? GROUP BY 1, 2",
        (prompt_hash(prompt),),
    )
    targets: dict[str, int] = {}
    answers: dict[str, int] = {}
    for target, answer, n in rows:
        targets[str(target)] = targets.get(str(target), 0) + n
        answers[str(answer)] = answers.get(str(answer), 0) + n
    return targets, answers


PAUSE_S = 600.0  # a gap this long between two stored records is a pause, not work


def active_seconds(run_dir: Path) -> float | None:
    """How long a run worked, over all the processes that resumed it: the time between its
    stored records (LLM calls and evaluations), leaving out gaps longer than PAUSE_S. The run's
    own wall time covers its last process only: a run resumed after an interruption would show
    a few minutes for hours of work."""
    rows = query_store(
        run_dir, "SELECT created FROM llm_calls UNION ALL SELECT created FROM evaluations"
    )
    times = sorted(t for (t,) in rows if t is not None)
    if len(times) < 2:
        return None
    return sum(b - a for a, b in zip(times, times[1:], strict=False) if b - a <= PAUSE_S)


def stored_test_items(run_dir: Path, hashes: list[str]) -> dict[str, dict[str, float]]:
    """Per test item scores of the prompts with these hashes, by hash then item id."""
    q = (
        "SELECT prompt_hash, example_id, score FROM evaluations WHERE split='test' "
        f"AND prompt_hash IN ({','.join('?' * len(hashes))})"
    )
    out: dict[str, dict[str, float]] = {}
    for h, ex, sc in query_store(run_dir, q, hashes):
        out.setdefault(h, {})[ex] = sc
    return out


def requests_when_scored(events: list[dict]) -> dict[str, int]:
    """Task requests spent when each prompt was first scored, by prompt hash, from the run's
    'scored' events (runs stored before that field have none)."""
    spent: dict[str, int] = {}
    for ev in events:
        if "requests" in ev:
            spent.setdefault(ev["hash"], ev["requests"])
    return spent


def scored_requests(run_dir: Path) -> dict[str, int]:
    """Task requests spent when each prompt was first scored, from the store's 'scored' events."""
    rows = query_store(run_dir, "SELECT data FROM events WHERE kind='scored' ORDER BY id")
    return requests_when_scored([json.loads(raw) for (raw,) in rows])
