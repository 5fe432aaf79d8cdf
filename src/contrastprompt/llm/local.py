"""The embedded model: a real llama.cpp server process on a free loopback port.

We start `llama_cpp.server` (llama-cpp-python's OpenAI-compatible server) rather than calling the
bindings in-process, so the embedded model goes through exactly the same HTTP path, cache, limits
and retries as any remote endpoint. See docs/adr/0001-local-server.md for why this build.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from ..config import FRESH_KV_CHOICES
from ..errors import UserError
from .base import ChatRequest, ChatResponse
from .openai_backend import OpenAIBackend

log = logging.getLogger("contrastprompt.local")

DEFAULT_SLOTS = 16  # sequences the batch engine decodes together (docs/adr/0004-batch-engine.md)


def local_model_path(name: str, models_dir: Path | None = None) -> Path:
    """The verified GGUF of a named local model (see `catalogue.py`)."""
    from .catalogue import gguf_path, lookup

    return gguf_path(lookup(name), models_dir)


def settle_log(live: Path, kept: Path, keep: bool = False) -> Path | None:
    """Where a stopped server's log ends: moved from `live` (where the server wrote it) to
    `kept` when it holds something, added to the end of a log already there; deleted when it is
    empty, unless `keep` (a server that died or never answered: the error names `kept`, so the
    file is there even with nothing in it). Returns where the log is, or None.

    A run dir should hold a server log only when there is something to read in it: a server
    that started and stopped cleanly writes nothing."""
    try:
        empty = live.stat().st_size == 0
    except FileNotFoundError:
        return kept if kept.exists() else None
    if empty and not keep:
        live.unlink(missing_ok=True)
        return None
    if live != kept:
        kept.parent.mkdir(parents=True, exist_ok=True)
        with open(live, "rb") as src, open(kept, "ab") as dst:
            shutil.copyfileobj(src, dst)
        live.unlink()
    return kept


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalServer:
    """Owns the server processes for one GGUF: start, wait until they answer, stop.

    Two engines (docs/adr/0004-batch-engine.md):
    - `batch` (default): one process of our batching engine (`batch_server`) with all cores;
      it decodes up to `slots` requests together and shares their common prompt prefix.
    - `serial`: llama-cpp-python's server, which answers one request at a time, so on a
      multi-core machine we run `replicas` processes with `threads` each and spread requests
      over them. Every greedy request is decoded alone: answers do not depend on what else runs.
    """

    _told_slower = False  # the slower-build notice is said once a process

    def __init__(
        self,
        gguf: str | Path,
        *,
        n_ctx: int = 4096,
        replicas: int | None = None,
        threads: int | None = None,
        startup_timeout: float = 120.0,
        log_dir: str | Path | None = None,
        fresh_kv: str | None = None,
        engine: str = "batch",
        slots: int | None = None,
    ) -> None:
        self.gguf = Path(gguf)
        if not self.gguf.is_file():
            raise UserError(
                f"GGUF file '{self.gguf}' does not exist",
                field="--model",
                hint="give gguf:/path/to/model.gguf",
            )
        cores = os.cpu_count() or 1
        self.engine = engine
        self.slots = slots or DEFAULT_SLOTS
        # the batch engine: one process on all cores unless told otherwise (`replicas` splits the
        # slots over processes of cores/replicas threads each); the serial one: one per core
        default = 1 if engine == "batch" else min(2, cores)
        self.replicas = max(1, replicas or default)
        self.threads = threads or max(1, cores // self.replicas)
        self.n_ctx = n_ctx
        # which requests start from an empty KV cache: sampled (default), all, none
        self.fresh_kv = fresh_kv or "sampled"
        if self.fresh_kv not in FRESH_KV_CHOICES:
            raise UserError(
                f"unknown value '{self.fresh_kv}'",
                field="CONTRASTPROMPT_FRESH_KV",
                hint="sampled, all or none",
            )
        self.startup_timeout = startup_timeout
        self.ports: list[int] = []
        self.procs: list[subprocess.Popen] = []
        self._logs: list = []
        # where the log is kept once the servers stop (the run dir, or the temp dir), if it
        # holds anything (`settle_log`); the running servers write it to `_live_log`
        self.log_path = Path(log_dir or tempfile.gettempdir()) / (
            f"contrastprompt-llama-{self.gguf.stem}-{os.getpid()}.log"
        )
        self._live_log: Path | None = None

    @property
    def base_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{p}/v1" for p in self.ports]

    def _command(self, port: int) -> list[str]:
        if self.engine == "batch":
            return [
                sys.executable,
                "-m",
                "contrastprompt.llm.batch_server",
                "--model",
                str(self.gguf),
                "--port",
                str(port),
                "--threads",
                str(self.threads),
                "--slots",
                str(max(1, self.slots // self.replicas)),
                "--max-request-tokens",
                str(self.n_ctx),
                "--n-ctx",
                str(max(self.n_ctx, self.slots * 1024)),
            ]
        return [
            sys.executable,
            "-m",
            "contrastprompt.llm.llama_server",
            "--model",
            str(self.gguf),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            str(self.n_ctx),
            "--n_threads",
            str(self.threads),
            "--n_threads_batch",
            str(self.threads),
            "--model_alias",
            "local",
            "--verbose",
            "False",
        ]

    def _spawn(self) -> None:
        port = _free_port()
        cmd = self._command(port)
        env = dict(
            os.environ,
            CONTRASTPROMPT_FRESH_KV=self.fresh_kv,
            CONTRASTPROMPT_PARENT_PID=str(os.getpid()),  # the server exits when we are gone
        )
        assert self._live_log is not None
        log = open(self._live_log, "ab")  # noqa: SIM115 - lives as long as the process
        self._logs.append(log)
        self.procs.append(
            subprocess.Popen(
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env=env,
            )
        )
        self.ports.append(port)

    def start(self) -> LocalServer:
        if self.procs:
            return self
        try:
            import llama_cpp.server  # noqa: F401
        except ImportError:
            raise UserError(
                "llama-cpp-python's server is not installed",
                field="--model",
                hint="pip install -e '.[local]'",
            ) from None
        from .engine import check_cpu

        slower = check_cpu()  # an engine compiled for another CPU: one line, not a crash
        if slower and not LocalServer._told_slower:
            LocalServer._told_slower = True
            log.warning(slower)
        atexit.register(self.stop)
        self._live_log = self._new_live_log()
        for _ in range(self.replicas):
            self._spawn()
        deadline = time.monotonic() + self.startup_timeout
        pending = set(range(self.replicas))
        last_error: OSError | None = None
        while pending and time.monotonic() < deadline:
            for i in sorted(pending):
                if self.procs[i].poll() is not None:
                    code = self.procs[i].returncode
                    self.stop(keep_log=True)
                    raise UserError(
                        f"the local model server exited with code {code}",
                        field="--model",
                        hint=f"see {self.log_path}",
                    )
                try:
                    with urllib.request.urlopen(self.base_urls[i] + "/models", timeout=2) as r:
                        json.load(r)
                        pending.discard(i)
                except OSError as e:  # not listening yet: keep waiting, remember why
                    last_error = e
            if pending:
                time.sleep(0.2)
        if pending:
            self.stop(keep_log=True)
            raise UserError(
                f"the local model server did not answer in {self.startup_timeout:.0f}s "
                f"({last_error})",
                field="--model",
                hint=f"see {self.log_path}",
            )
        log.info("local servers up on ports %s", self.ports)
        return self

    def _new_live_log(self) -> Path:
        """The file the servers write their log to while they run: the kept path itself in the
        temp dir, else a temp file of its own, moved into the run dir on stop if not empty."""
        if self.log_path.parent == Path(tempfile.gettempdir()):
            return self.log_path
        fd, name = tempfile.mkstemp(prefix=f"{self.log_path.stem}-", suffix=".log")
        os.close(fd)
        return Path(name)

    def stop(self, keep_log: bool = False) -> None:
        """Stop the servers and settle their log (`settle_log`): kept when a server had died on
        its own or `keep_log` is set, since the error that says so names the log."""
        procs, self.procs = self.procs, []
        keep_log = keep_log or any(p.poll() is not None for p in procs)
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for f in self._logs:
            f.close()
        self._logs.clear()
        self.ports.clear()
        live, self._live_log = self._live_log, None
        if live is not None:
            settle_log(live, self.log_path, keep=keep_log)


class LocalBackend:
    """A local GGUF behind its own server processes, started on the first request (a run that
    resumes entirely from its cache never loads the model) and stopped with the hub."""

    def __init__(self, server: LocalServer, model_id: str, timeout: float) -> None:
        # a request may wait behind others in the server and a 1.5B model on 2 busy cores takes
        # a minute for a long answer: a short timeout only makes it answer the same twice
        self.server, self.model_id, self.timeout = server, model_id, max(timeout, 600.0)
        self._pool: PooledBackend | None = None
        self._lock = threading.Lock()

    @property
    def capacity(self) -> int:
        """Requests worth sending at once. The batch engine decodes `slots` together; a serial
        process answers one at a time, and one more waiting per process hides the HTTP round
        trip; more would only queue (and time out)."""
        if self.server.engine == "batch":
            return self.server.slots
        return 2 * self.server.replicas

    def start(self) -> PooledBackend:
        """Start the servers if they are not running (blocking; safe from several threads)."""
        with self._lock:
            if self._pool is None:
                self.server.start()
                self._pool = PooledBackend(
                    [
                        OpenAIBackend(
                            "local",
                            base_url=url,
                            model_id=self.model_id,
                            timeout=self.timeout,
                            extra_body=sampling_overrides(),
                            answer_until=self.server.engine == "batch",
                        )
                        for url in self.server.base_urls
                    ],
                    self.model_id,
                )
            return self._pool

    async def complete(self, request: ChatRequest) -> ChatResponse:
        pool = self._pool or await asyncio.to_thread(self.start)
        return await pool.complete(request)

    async def aclose(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.aclose()


class PooledBackend:
    """Sends each request to the least busy of several identical servers."""

    def __init__(self, backends: list, model_id: str) -> None:
        self.backends = backends
        self.model_id = model_id
        self._busy = [0] * len(backends)

    async def complete(self, request: ChatRequest) -> ChatResponse:
        i = min(range(len(self.backends)), key=self._busy.__getitem__)
        self._busy[i] += 1
        try:
            return await self.backends[i].complete(request)
        finally:
            self._busy[i] -= 1

    async def aclose(self) -> None:
        for b in self.backends:
            await b.aclose()


def sampling_overrides() -> dict:
    """Neutral sampling for llama-cpp-python's server, whose defaults add a repeat penalty."""
    return {"repeat_penalty": 1.0, "top_k": 0, "top_p": 1.0, "min_p": 0.0}
