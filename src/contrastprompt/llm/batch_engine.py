"""A batching engine for one local GGUF model, on llama.cpp's own batch API.

Why: llama-cpp-python's server answers one request at a time. On a CPU, one decode step for
several sequences reads the weights once for all of them, and every task request of one
evaluation starts with the same text (chat template, instruction), so that prefix can be computed
once and shared. This engine does both:

- **Continuous batching.** Up to `slots` requests decode together, one sequence each; a finished
  sequence frees its slot for the next queued request at the next step.
- **Shared prefixes.** The KV cache is unified across sequences, so a new request starts from the
  longest prefix that any slot already holds (or will hold once its prompt is read): llama.cpp
  tags the same cache cells with the new sequence id instead of recomputing them.

Greedy answers can differ in the last bits from a request decoded alone (llama.cpp's kernels are
not batch-invariant). `slots=1, share_prefix=False` makes every request start from an empty cache
in a batch of its own: the unbatched behaviour, for runs that need it.
"""

from __future__ import annotations

import ctypes
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

log = logging.getLogger("contrastprompt.engine")


class EngineError(Exception):
    """A request the engine cannot serve (too long for its context); it fails alone."""


@dataclass
class Job:
    """One chat completion: prompt tokens in, text out through `done` (and, as it grows, through
    `on_text` when a client streams)."""

    prompt: list[int]
    max_tokens: int
    temperature: float = 0.0
    seed: int | None = 0
    stop: Sequence[str] = ()
    eog_texts: Sequence[str] = ()
    until: Callable[[str], bool] | None = None  # True once the reply holds its whole answer
    done: Callable[[Job], None] = lambda job: None
    # the reply so far, after each token that does not end it: what a streaming client is sent
    on_text: Callable[[str], None] | None = None
    text: str = ""
    finish_reason: str = "stop"
    completion_tokens: int = 0
    shared_tokens: int = 0  # prompt tokens taken from the cache instead of computed
    error: str | None = None
    cancelled: bool = False
    enqueued: float = field(default_factory=time.monotonic)


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """Length of the longest common prefix of two token lists."""
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


@dataclass
class Slot:
    """One sequence of the batch. `cached` lists the tokens whose KV the cache holds for this
    sequence (positions 0..len-1); it outlives the job so a later one can start from it."""

    seq: int
    cached: list[int] = field(default_factory=list)
    job: Job | None = None
    todo: list[int] = field(default_factory=list)  # prompt tokens still to read
    wait: tuple[Slot, int] | None = None  # copy this many tokens from that slot once it has them
    next_token: int | None = None  # sampled, not yet in the cache
    sampler: object = None
    out: bytearray = field(default_factory=bytearray)
    last_used: float = 0.0

    @property
    def busy(self) -> bool:
        return self.job is not None

    def target(self) -> list[int]:
        """What the cache will hold for this sequence once its prompt is read."""
        return self.cached + self.todo if self.job is not None else self.cached


class BatchEngine:
    """Owns a llama.cpp context with `slots` sequences and a thread that decodes them.

    `submit` is thread-safe; `job.done` is called from the engine thread.
    """

    def __init__(
        self,
        model_path: str,
        *,
        slots: int = 8,
        n_ctx: int = 16384,
        max_request_tokens: int = 4096,
        n_batch: int = 512,
        threads: int = 2,
        share_prefix: bool = True,
        extra_params: dict | None = None,
    ) -> None:
        import llama_cpp

        from .engine import load_backends

        load_backends()  # a runtime-dispatch build: this CPU's variant, before any model opens
        self.ll = llama_cpp
        self.slots_n = max(1, slots)
        self.share_prefix = share_prefix
        self.n_ctx = max(n_ctx, max_request_tokens)
        self.max_request_tokens = max_request_tokens
        self.n_batch = n_batch
        # the Llama object gives the model, its tokenizer and its chat template exactly as
        # llama-cpp-python's server uses them; its own context is tiny and unused
        self.llama = llama_cpp.Llama(
            model_path=model_path, n_ctx=64, n_batch=64, n_threads=threads, verbose=False
        )
        self.vocab = llama_cpp.llama_model_get_vocab(self.llama.model)
        p = llama_cpp.llama_context_default_params()
        p.n_ctx = self.n_ctx
        p.n_batch = n_batch
        p.n_ubatch = n_batch
        p.n_seq_max = self.slots_n
        p.n_threads = threads
        p.n_threads_batch = threads
        p.kv_unified = True  # one cache for all sequences: shared prefixes are shared cells
        # flash attention off, as in llama-cpp-python's server: with it on, greedy answers of a
        # request decoded alone differ from that server's (measured: 18 of 24 the same, 24 of 24
        # with it off), for 1.3x on SmolLM2 and nothing measurable on the 1.5B
        p.flash_attn_type = 0
        for k, v in (extra_params or {}).items():
            setattr(p, k, v)
        p.no_perf = True
        self.ctx = llama_cpp.llama_init_from_model(self.llama.model, p)
        if not self.ctx:
            raise RuntimeError(f"llama.cpp could not create a context for {model_path}")
        self.mem = llama_cpp.llama_get_memory(self.ctx)
        self.batch = llama_cpp.llama_batch_init(n_batch, 0, 1)
        self.slots = [Slot(seq=i) for i in range(self.slots_n)]
        self.queue: deque[Job] = deque()
        self.cv = threading.Condition()
        self.stats = {"prompt_tokens": 0, "computed_prompt_tokens": 0, "completion_tokens": 0}
        self._stop = False
        self.thread = threading.Thread(target=self._run, name="batch-engine", daemon=True)
        self.thread.start()

    # -- public ---------------------------------------------------------------------------------

    def tokenize_chat(self, messages: list[dict]) -> tuple[list[int], list[str]]:
        """Prompt tokens and extra stop texts for chat messages, as llama-cpp-python's server
        builds them (same chat template, same special-token handling)."""
        from llama_cpp import llama_chat_format as fmt

        handler_name = self.llama.chat_format
        if handler_name == "chat_template.default" or handler_name not in _BUILTIN_FORMATS:
            formatter = fmt.Jinja2ChatFormatter(
                template=self.llama.metadata["tokenizer.chat_template"],
                eos_token=self._token_text(self.llama.token_eos()),
                bos_token=self._token_text(self.llama.token_bos()),
                stop_token_ids=[self.llama.token_eos()],
            )
            result = formatter(messages=messages)
        else:
            result = _BUILTIN_FORMATS[handler_name](messages=messages)
        tokens = self.llama.tokenize(
            result.prompt.encode("utf-8"), add_bos=not result.added_special, special=True
        )
        stop = (
            result.stop if isinstance(result.stop, list) else [result.stop] if result.stop else []
        )
        return tokens, [s for s in stop if s]

    def submit(self, job: Job) -> None:
        if len(job.prompt) + job.max_tokens > self.max_request_tokens:
            raise EngineError(
                f"prompt ({len(job.prompt)} tokens) and max_tokens ({job.max_tokens}) exceed "
                f"the context of {self.max_request_tokens} tokens"
            )
        with self.cv:
            self.queue.append(job)
            self.cv.notify()

    def close(self) -> None:
        with self.cv:
            self._stop = True
            self.cv.notify()
        self.thread.join(timeout=30)
        for s in self.slots:
            self._free_sampler(s)
        self.ll.llama_batch_free(self.batch)
        self.ll.llama_free(self.ctx)
        self.llama.close()

    # -- the loop -------------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self.cv:
                while not self._stop and not self.queue and not any(s.busy for s in self.slots):
                    self.cv.wait()
                if self._stop:
                    return
                self._admit()
            try:
                self._step()
            except Exception as e:  # a failed decode fails the jobs in it, never the engine
                log.exception("decode failed")
                for s in self.slots:
                    if s.busy:
                        self._finish(s, error=f"decode failed: {e}")
                        self._forget(s)

    def _admit(self) -> None:
        """Move queued jobs into free slots (called with the lock held)."""
        while self.queue:
            job = self.queue[0]
            if job.cancelled:
                self.queue.popleft()
                continue
            free = [s for s in self.slots if not s.busy]
            if not free or not self._room_for(job):
                return
            self.queue.popleft()
            self._place(job, free)

    def _room_for(self, job: Job) -> bool:
        """Whether the cache can take the job's prompt and answer, after dropping what idle
        slots keep (oldest first). Counts shared cells once per sequence: a safe over-estimate."""
        busy = sum(len(s.target()) + s.job.max_tokens for s in self.slots if s.job)
        need = len(job.prompt) + job.max_tokens
        if busy and busy + need > self.n_ctx:
            return False  # wait for a running job to finish; alone it fits (checked at submit)
        idle = sorted((s for s in self.slots if not s.busy and s.cached), key=lambda s: s.last_used)
        kept = sum(len(s.cached) for s in idle)
        while idle and busy + need + kept > self.n_ctx:
            s = idle.pop(0)
            kept -= len(s.cached)
            self._forget(s)
        return True

    def _place(self, job: Job, free: list[Slot]) -> None:
        prompt = job.prompt
        limit = len(prompt) - 1  # the last prompt token is always read: it gives the logits
        best_src, best_len = None, 0
        if self.share_prefix:
            for s in self.slots:
                n = min(common_prefix(s.target(), prompt), limit)
                if n > best_len:
                    best_src, best_len = s, n
        # reuse a free slot that holds that prefix itself, else the least recently used one
        if best_src is not None and not best_src.busy:
            slot = best_src
        else:
            slot = min(free, key=lambda s: (s.last_used, s.seq))
        slot.job, slot.out, slot.next_token = job, bytearray(), None
        slot.sampler = self._make_sampler(job)
        slot.wait = None
        if best_src is slot:
            self._truncate(slot, best_len)
        else:
            self._forget(slot)
            if best_src is not None:
                if len(best_src.cached) >= best_len:
                    self._copy(best_src, slot, best_len)
                else:
                    slot.wait = (best_src, best_len)
        job.shared_tokens = best_len if slot.wait else len(slot.cached)
        slot.todo = list(prompt[best_len if slot.wait else len(slot.cached) :])
        self.stats["prompt_tokens"] += len(prompt)
        self.stats["computed_prompt_tokens"] += len(slot.todo)

    # -- cache operations -----------------------------------------------------------------------

    def _truncate(self, slot: Slot, n: int) -> None:
        self.ll.llama_memory_seq_rm(self.mem, slot.seq, n, -1)
        del slot.cached[n:]

    def _forget(self, slot: Slot) -> None:
        self.ll.llama_memory_seq_rm(self.mem, slot.seq, -1, -1)
        slot.cached = []

    def _copy(self, src: Slot, dst: Slot, n: int) -> None:
        self.ll.llama_memory_seq_cp(self.mem, src.seq, dst.seq, 0, n)
        dst.cached = list(src.cached[:n])

    # -- one step -------------------------------------------------------------------------------

    def _step(self) -> None:
        """One llama_decode: each generating sequence adds its last token, then prompts are read
        in chunks while the batch has room. Samples a token for every sequence that got logits."""
        ll, b = self.ll, self.batch
        for s in self.slots:  # copies whose source has read far enough, or never will
            if s.busy and s.wait:
                src, n = s.wait
                if len(src.cached) >= n and common_prefix(src.cached, s.job.prompt) >= n:
                    self._copy(src, s, n)
                elif src.busy and src.todo:
                    continue
                s.todo, s.wait = list(s.job.prompt[len(s.cached) :]), None
        b.n_tokens = 0
        rows: list[tuple[Slot, int]] = []  # (slot, batch index) of rows that give logits
        added: dict[int, tuple[list[int], bool]] = {}
        for s in self.slots:
            if s.busy and s.next_token is not None:
                self._add(s, [s.next_token], True, rows, added, generated=True)
        for s in sorted(self.slots, key=lambda s: s.job.enqueued if s.job else 0):
            if not s.busy or s.wait or not s.todo or s.next_token is not None:
                continue
            room = self.n_batch - b.n_tokens
            if room <= 0:
                break
            chunk = s.todo[:room]
            self._add(s, chunk, len(chunk) == len(s.todo), rows, added, generated=False)
        if b.n_tokens == 0:
            return
        rc = ll.llama_decode(self.ctx, b)
        if rc != 0:
            raise RuntimeError(f"llama_decode returned {rc}")
        for seq, (toks, generated) in added.items():
            slot = self.slots[seq]
            slot.cached.extend(toks)
            if generated:
                slot.next_token = None
            else:
                del slot.todo[: len(toks)]
        for slot, idx in rows:
            self._sample(slot, idx)

    def _add(
        self,
        s: Slot,
        toks: list[int],
        logits_last: bool,
        rows: list,
        added: dict,
        *,
        generated: bool,
    ) -> None:
        b = self.batch
        start = len(s.cached)
        for j, t in enumerate(toks):
            i = b.n_tokens
            b.token[i] = t
            b.pos[i] = start + j
            b.n_seq_id[i] = 1
            b.seq_id[i][0] = s.seq
            last = logits_last and j == len(toks) - 1
            b.logits[i] = last
            if last:
                rows.append((s, i))
            b.n_tokens += 1
        added[s.seq] = (list(toks), generated)

    def _sample(self, slot: Slot, idx: int) -> None:
        ll, job = self.ll, slot.job
        assert job is not None
        if job.cancelled:
            self._finish(slot, reason="cancelled")
            return
        tok = ll.llama_sampler_sample(slot.sampler, self.ctx, idx)
        if ll.llama_vocab_is_eog(self.vocab, tok):
            self._finish(slot, reason="stop")
            return
        job.completion_tokens += 1
        self.stats["completion_tokens"] += 1
        slot.out += self._piece(tok)
        text = slot.out.decode("utf-8", errors="ignore")
        for stop in (*job.stop, *job.eog_texts):
            at = text.find(stop)
            if at >= 0:
                job.text = text[:at]
                self._finish(slot, reason="stop", keep_text=True)
                return
        if job.until is not None and job.until(text):
            job.text = text
            self._finish(slot, reason="stop", keep_text=True)
            return
        if job.completion_tokens >= job.max_tokens:
            self._finish(slot, reason="length")
            return
        slot.next_token = tok
        if job.on_text is not None:
            try:
                job.on_text(text)  # already decoded above: streaming costs the loop one call
            except Exception:  # the listener's problem, not the engine's
                log.exception("text callback failed")

    def _finish(
        self, slot: Slot, *, reason: str = "stop", error: str | None = None, keep_text: bool = False
    ) -> None:
        job = slot.job
        assert job is not None
        if not keep_text:
            job.text = slot.out.decode("utf-8", errors="ignore")
        job.finish_reason, job.error = reason, error
        slot.job, slot.todo, slot.wait, slot.next_token = None, [], None, None
        slot.last_used = time.monotonic()
        self._free_sampler(slot)
        if not self.share_prefix:
            self._forget(slot)
        try:
            job.done(job)
        except Exception:  # the waiter's problem, not the engine's
            log.exception("done callback failed")

    # -- helpers --------------------------------------------------------------------------------

    def _make_sampler(self, job: Job) -> object:
        ll = self.ll
        chain = ll.llama_sampler_chain_init(ll.llama_sampler_chain_default_params())
        if job.temperature <= 0:
            ll.llama_sampler_chain_add(chain, ll.llama_sampler_init_greedy())
        else:
            seed = job.seed if job.seed is not None else 0xFFFFFFFF  # LLAMA_DEFAULT_SEED: random
            ll.llama_sampler_chain_add(chain, ll.llama_sampler_init_temp(job.temperature))
            ll.llama_sampler_chain_add(chain, ll.llama_sampler_init_dist(seed & 0xFFFFFFFF))
        return chain

    def _free_sampler(self, slot: Slot) -> None:
        if slot.sampler is not None:
            self.ll.llama_sampler_free(slot.sampler)
            slot.sampler = None

    def _piece(self, tok: int) -> bytes:
        buf = ctypes.create_string_buffer(64)
        n = self.ll.llama_token_to_piece(self.vocab, tok, buf, len(buf), 0, False)
        if n < 0:
            buf = ctypes.create_string_buffer(-n)
            n = self.ll.llama_token_to_piece(self.vocab, tok, buf, len(buf), 0, False)
        return buf.raw[:n]

    def _token_text(self, tok: int) -> str:
        return self._piece(tok).decode("utf-8", errors="ignore") if tok >= 0 else ""


def _builtin_formats() -> dict:
    """llama-cpp-python's named chat formats that its server may pick by guessing."""
    try:
        from llama_cpp import llama_chat_format as fmt
    except ImportError:
        return {}
    return {
        "chatml": fmt.format_chatml,
        "mistral-instruct": fmt.format_mistral_instruct,
        "llama-3": fmt.format_llama3,
        "llama-2": fmt.format_llama2,
    }


_BUILTIN_FORMATS = _builtin_formats()
