"""The local engine's server process: an OpenAI-compatible `/v1/chat/completions` over one
`BatchEngine`, so local models go through the same HTTP path, cache, limits and retries as any
remote endpoint, and any OpenAI client (DSPy's, a chat UI, the `openai` SDK) can talk to it.

    python -m contrastprompt.llm.batch_server --model m.gguf --port 8080 [--slots 8]

It honours what it accepts: `stream` (server-sent `chat.completion.chunk`s, one content delta per
token, `stream_options.include_usage`), `n` (n sequences of the same request, each with its own
seed), `max_completion_tokens`/`max_tokens`, `temperature`, `seed`, `stop`. A field that would
change the answer and that it cannot honour (tools, JSON output, log probabilities, penalties,
nucleus sampling...) is a 400 naming it, as is a field it does not know, rather than an answer
that silently ignores it (docs/guide.md lists them).

Besides the OpenAI fields it takes `answer_until` (see `contrastprompt.data.extract.
answer_complete`): the reply ends as soon as it holds its whole answer. `/stats` reports how many
prompt tokens were read and how many came from shared prefixes.

Like the serial server, it exits within a second once the process that started it is gone
(`CONTRASTPROMPT_PARENT_PID`), however that process died.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from .batch_engine import BatchEngine, EngineError, Job

DEFAULT_MAX_TOKENS = 256

# accepted, and cannot change the answer: bookkeeping for the caller or for OpenAI's own service
_HARMLESS = frozenset(
    {
        "user",
        "metadata",
        "store",
        "service_tier",
        "parallel_tool_calls",
        "prediction",
        "safety_identifier",
        "prompt_cache_key",
    }
)
_USED = frozenset(
    {
        "model",  # any name: the process serves one model
        "messages",
        "max_tokens",
        "max_completion_tokens",
        "temperature",
        "seed",
        "stop",
        "n",
        "stream",
        "stream_options",
        "answer_until",
    }
)

# accepted only at a value that asks for nothing this server cannot do: (is neutral(value,
# greedy), why not otherwise). null is always neutral; sampling filters are neutral when greedy.
_NEUTRAL_ONLY: dict[str, tuple[Callable[[Any, bool], bool], str]] = {
    "tools": (lambda v, g: v == [], "this server does not call tools"),
    "tool_choice": (lambda v, g: v in ("none", "auto"), "this server does not call tools"),
    "functions": (lambda v, g: v == [], "this server does not call functions"),
    "function_call": (lambda v, g: v in ("none", "auto"), "this server does not call functions"),
    "response_format": (
        lambda v, g: isinstance(v, dict) and v.get("type") == "text",
        "the reply is not constrained to JSON; send {'type': 'text'} or omit it",
    ),
    "logprobs": (lambda v, g: v is False, "log probabilities are not returned"),
    "top_logprobs": (lambda v, g: v == 0, "log probabilities are not returned"),
    "logit_bias": (lambda v, g: v == {}, "logits are not biased; omit it"),
    "frequency_penalty": (lambda v, g: v == 0, "no penalty is applied; send 0 or omit it"),
    "presence_penalty": (lambda v, g: v == 0, "no penalty is applied; send 0 or omit it"),
    "repeat_penalty": (lambda v, g: v == 1, "no penalty is applied; send 1 or omit it"),
    "top_p": (
        lambda v, g: g or v == 1,
        "it samples from the whole distribution; send 1 or omit it",
    ),
    "top_k": (
        lambda v, g: g or v == 0,
        "it samples from the whole distribution; send 0 or omit it",
    ),
    "min_p": (
        lambda v, g: g or v == 0,
        "it samples from the whole distribution; send 0 or omit it",
    ),
    "modalities": (lambda v, g: v == ["text"], "this server answers in text only"),
    "audio": (lambda v, g: False, "this server answers in text only"),
    "web_search_options": (lambda v, g: False, "this server does not search the web"),
    "reasoning_effort": (lambda v, g: False, "the model is not a reasoning model"),
    "verbosity": (lambda v, g: False, "only max_tokens bounds the reply"),
}
_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}


class BadParam(ValueError):
    """A request field this server cannot honour; `param` names it for the 400 the client gets."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(message)
        self.param = param


@dataclass
class ChatCall:
    """One chat request as the engine runs it: `n` jobs of the same prompt, and how to answer."""

    jobs: list[Job]
    stream: bool = False
    include_usage: bool = False


def _error(status: int, message: str, param: str | None = None):  # noqa: ANN202 - lazy import
    from starlette.responses import JSONResponse

    kind = "invalid_request_error" if status < 500 else "server_error"
    body = {"message": message, "type": kind, "param": param, "code": None}
    return JSONResponse({"error": body}, status)


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: object) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _int(body: dict, name: str, lo: int, hi: int | None = None) -> int | None:
    v = body.get(name)
    if v is None:
        return None
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if not _is_int(v) or v < lo or (hi is not None and v > hi):
        bound = f"from {lo} to {hi}" if hi is not None else f"at least {lo}"
        raise BadParam(name, f"'{name}' must be an integer {bound}, got {v!r}")
    return v


def check_fields(body: dict, greedy: bool) -> None:
    """Refuse, naming it, any field this server does not know or cannot honour: an answer that
    silently ignored `tools` or a JSON schema would look right and be wrong."""
    for name, value in body.items():
        if name in _USED or name in _HARMLESS or value is None:
            continue
        rule = _NEUTRAL_ONLY.get(name)
        if rule is None:
            raise BadParam(name, f"unrecognized request argument '{name}'")
        neutral, why = rule
        try:
            ok = neutral(value, greedy)
        except TypeError:
            ok = False
        if not ok:
            raise BadParam(name, f"'{name}'={json.dumps(value)} is not supported: {why}")


def _content(value: object, i: int) -> str:
    """A message's text: a string, or text parts (as the `openai` SDK's typed messages send)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        texts = []
        for part in value:
            kind = part.get("type") if isinstance(part, dict) else None
            if kind != "text" or not isinstance(part.get("text"), str):
                raise BadParam(
                    "messages", f"messages[{i}] has a {kind!r} part; only text is served"
                )
            texts.append(part["text"])
        return "".join(texts)
    raise BadParam("messages", f"messages[{i}] needs a string 'content' (or text parts)")


def parse_messages(value: object) -> list[dict]:
    """Messages as the chat template reads them; a 'developer' message is a system message."""
    if not isinstance(value, list) or not value:
        raise BadParam("messages", "'messages' must be a non-empty list")
    out = []
    for i, m in enumerate(value):
        if not isinstance(m, dict):
            raise BadParam("messages", f"messages[{i}] must be an object")
        role = m.get("role")
        if role not in _ROLES:
            raise BadParam(
                "messages", f"messages[{i}] has role {role!r}; served: {', '.join(_ROLES)}"
            )
        if m.get("tool_calls"):
            raise BadParam("messages", f"messages[{i}] has tool_calls: this server calls no tools")
        out.append({"role": _ROLES[role], "content": _content(m.get("content"), i)})
    return out


def _stops(value: object) -> list[str]:
    if value is None:
        return []
    stops = [value] if isinstance(value, str) else value
    if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
        raise BadParam("stop", "'stop' must be a string or a list of strings")
    return [s for s in stops if s]


def parse_chat(engine: BatchEngine, body: object) -> ChatCall:
    """The jobs of an OpenAI chat request body; BadParam names the field it cannot serve."""
    from ..data.extract import answer_complete

    if not isinstance(body, dict):
        raise BadParam("body", "the request body must be a JSON object")
    temperature = body.get("temperature")
    if temperature is None:
        temperature = 0.0
    if not _is_number(temperature) or not 0 <= temperature <= 2:
        raise BadParam("temperature", f"'temperature' must be from 0 to 2, got {temperature!r}")
    check_fields(body, greedy=temperature <= 0)
    messages = parse_messages(body.get("messages"))
    # OpenAI's current name first: litellm (so DSPy) sends max_completion_tokens only
    max_tokens = _int(body, "max_completion_tokens", 1)
    if max_tokens is None:
        max_tokens = _int(body, "max_tokens", 1) or DEFAULT_MAX_TOKENS
    seed = _int(body, "seed", -(2**63), 2**64 - 1)
    n = _int(body, "n", 1, engine.slots_n) or 1
    stream = body.get("stream") or False
    if not isinstance(stream, bool):
        raise BadParam("stream", f"'stream' must be true or false, got {stream!r}")
    options = body.get("stream_options") or {}
    if not isinstance(options, dict):
        raise BadParam("stream_options", "'stream_options' must be an object")
    until = body.get("answer_until")
    try:
        until = answer_complete(until) if until else None
    except (AttributeError, TypeError, ValueError) as e:
        raise BadParam("answer_until", f"'answer_until' must be an answer format: {e}") from e
    stop = _stops(body.get("stop"))
    try:
        tokens, template_stop = engine.tokenize_chat(messages)
    except Exception as e:  # a template that raises on an order of roles it does not take
        raise BadParam("messages", f"the model's chat template refuses these messages: {e}") from e
    jobs = [
        Job(
            prompt=tokens,
            max_tokens=max_tokens,
            temperature=float(temperature),
            # one seed a choice, derived from the request's, so sampled choices differ and
            # choice 0 is what the same request with n=1 gets
            seed=None if seed is None else (seed + i) & 0xFFFFFFFF,
            stop=stop,
            eog_texts=template_stop,
            until=until,
        )
        for i in range(n)
    ]
    return ChatCall(jobs, stream=stream, include_usage=bool(options.get("include_usage")))


def sendable(text: str, stops: list[str]) -> str:
    """The part of a partial reply that no stop text can still cut: its end is held back while
    it could be the start of one, so a streamed reply never shows what the whole one drops."""
    hold = 0
    for s in stops:
        for k in range(min(len(s) - 1, len(text)), hold, -1):
            if text.endswith(s[:k]):
                hold = k
                break
    return text[: len(text) - hold]


def _usage(jobs: list[Job]) -> dict:
    """Prompt tokens once (the n choices share the prompt, as OpenAI counts it), completion
    tokens summed over the choices."""
    prompt = len(jobs[0].prompt)
    completion = sum(j.completion_tokens for j in jobs)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "cached_prompt_tokens": jobs[0].shared_tokens,
    }


def _completion(jobs: list[Job], alias: str) -> dict:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": alias,
        "choices": [
            {
                "index": i,
                "message": {"role": "assistant", "content": job.text},
                "logprobs": None,
                "finish_reason": job.finish_reason,
            }
            for i, job in enumerate(jobs)
        ],
        "usage": _usage(jobs),
    }


def _submit_all(engine: BatchEngine, jobs: list[Job]) -> None:
    """Submit every job or none: one the engine refuses cancels those already queued."""
    for k, job in enumerate(jobs):
        try:
            engine.submit(job)
        except EngineError:
            for j in jobs[:k]:
                j.cancelled = True
            raise


async def _answer(engine: BatchEngine, call: ChatCall, alias: str):  # noqa: ANN202
    from starlette.responses import JSONResponse

    loop = asyncio.get_running_loop()
    futures = [loop.create_future() for _ in call.jobs]
    for job, fut in zip(call.jobs, futures, strict=True):
        job.done = lambda j, f=fut: loop.call_soon_threadsafe(lambda: f.done() or f.set_result(j))
    _submit_all(engine, call.jobs)
    try:
        await asyncio.gather(*futures)
    finally:
        for job in call.jobs:
            job.cancelled = True  # a client that went away frees its slots at the next step
    failed = next((j.error for j in call.jobs if j.error), None)
    if failed:
        return _error(500, failed)
    return JSONResponse(_completion(call.jobs, alias))


def _sse(data: dict | str) -> str:
    return f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n"


async def _chunks(call: ChatCall, queue: asyncio.Queue, alias: str) -> AsyncIterator[str]:
    """The stream of one request, as OpenAI sends it: the role, content deltas as each choice's
    tokens arrive, a chunk with each choice's finish_reason, the usage if asked, `[DONE]`."""
    head = {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": alias,
    }
    extra = {"usage": None} if call.include_usage else {}

    def chunk(i: int, delta: dict, finish: str | None = None) -> str:
        choice = {"index": i, "delta": delta, "logprobs": None, "finish_reason": finish}
        return _sse(head | {"choices": [choice]} | extra)

    jobs = call.jobs
    sent = [""] * len(jobs)
    try:
        for i in range(len(jobs)):
            yield chunk(i, {"role": "assistant", "content": ""})
        left = len(jobs)
        while left:
            i, text, finished = await queue.get()
            if finished is not None:
                left -= 1
                if finished.error:
                    yield _sse({"error": {"message": finished.error, "type": "server_error"}})
                    return
                text = finished.text
            else:
                text = sendable(text, [*jobs[i].stop, *jobs[i].eog_texts])
            if len(text) > len(sent[i]) and text.startswith(sent[i]):
                yield chunk(i, {"content": text[len(sent[i]) :]})
                sent[i] = text
            if finished is not None:
                yield chunk(i, {}, finished.finish_reason)
        if call.include_usage:
            yield _sse(head | {"choices": [], "usage": _usage(jobs)})
        yield _sse("[DONE]")
    finally:
        for job in jobs:
            job.cancelled = True  # a client that went away frees its slots at the next step


def _stream(engine: BatchEngine, call: ChatCall, alias: str):  # noqa: ANN202
    from starlette.responses import StreamingResponse

    loop = asyncio.get_running_loop()
    queue: asyncio.Queue = asyncio.Queue()
    for i, job in enumerate(call.jobs):
        # called from the engine thread: hand each event to the event loop, nothing more
        job.on_text = lambda text, i=i: loop.call_soon_threadsafe(queue.put_nowait, (i, text, None))
        job.done = lambda j, i=i: loop.call_soon_threadsafe(queue.put_nowait, (i, None, j))
    _submit_all(engine, call.jobs)
    headers = {"Cache-Control": "no-cache"}
    return StreamingResponse(
        _chunks(call, queue, alias), media_type="text/event-stream", headers=headers
    )


def build_app(engine: BatchEngine, alias: str = "local"):  # noqa: ANN201
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def completions(request):  # noqa: ANN001, ANN202
        try:
            call = parse_chat(engine, await request.json())
        except BadParam as e:
            return _error(400, f"bad request: {e}", e.param)
        except ValueError as e:  # the body is not JSON
            return _error(400, f"bad request: the request body is not JSON ({e})", "body")
        try:
            if call.stream:
                return _stream(engine, call, alias)
            return await _answer(engine, call, alias)
        except EngineError as e:
            return _error(400, str(e), "max_tokens")

    async def models(request):  # noqa: ANN001, ANN202
        return JSONResponse({"object": "list", "data": [{"id": alias, "object": "model"}]})

    async def stats(request):  # noqa: ANN001, ANN202
        return JSONResponse(dict(engine.stats, slots=engine.slots_n))

    return Starlette(
        routes=[
            Route("/v1/chat/completions", completions, methods=["POST"]),
            Route("/v1/models", models),
            Route("/stats", stats),
        ]
    )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8080)
    ap.add_argument("--slots", type=int, default=8)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--n-ctx", type=int, default=16384, help="cache cells for all sequences")
    ap.add_argument("--max-request-tokens", type=int, default=4096)
    ap.add_argument("--no-share-prefix", action="store_true")
    ap.add_argument("--alias", default="local")
    args = ap.parse_args(argv)
    parent = os.environ.get("CONTRASTPROMPT_PARENT_PID")
    if parent:
        from .llama_server import watch_parent

        watch_parent(int(parent))
    import uvicorn

    engine = BatchEngine(
        args.model,
        slots=args.slots,
        n_ctx=args.n_ctx,
        max_request_tokens=args.max_request_tokens,
        threads=args.threads,
        share_prefix=not args.no_share_prefix,
    )
    uvicorn.run(build_app(engine, args.alias), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
