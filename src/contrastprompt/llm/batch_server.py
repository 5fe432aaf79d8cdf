"""The local engine's server process: an OpenAI-compatible `/v1/chat/completions` over one
`BatchEngine`, so local models go through the same HTTP path, cache, limits and retries as any
remote endpoint, and any OpenAI client (DSPy's included) can talk to it.

    python -m contrastprompt.llm.batch_server --model m.gguf --port 8080 [--slots 8]

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

from .batch_engine import BatchEngine, EngineError, Job


def _error(status: int, message: str):  # noqa: ANN202 - starlette is imported lazily
    from starlette.responses import JSONResponse

    return JSONResponse({"error": {"message": message, "type": "invalid_request_error"}}, status)


def _job_from_body(engine: BatchEngine, body: dict) -> Job:
    """A job from an OpenAI chat request body; ValueError names the bad field."""
    from ..data.extract import answer_complete

    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise ValueError("'messages' must be a non-empty list")
    for m in messages:
        if not isinstance(m, dict) or not isinstance(m.get("content"), str):
            raise ValueError("each message needs a string 'content'")
    stop = body.get("stop") or []
    stop = [stop] if isinstance(stop, str) else list(stop)
    until = body.get("answer_until")
    tokens, template_stop = engine.tokenize_chat(messages)
    return Job(
        prompt=tokens,
        # OpenAI's current name first: litellm (so DSPy) sends max_completion_tokens only
        max_tokens=int(body.get("max_completion_tokens") or body.get("max_tokens") or 256),
        temperature=float(body.get("temperature") or 0.0),
        seed=body.get("seed"),
        stop=stop,
        eog_texts=template_stop,
        until=answer_complete(until) if until else None,
    )


def build_app(engine: BatchEngine, alias: str = "local"):  # noqa: ANN201
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def completions(request):  # noqa: ANN001, ANN202
        try:
            body = await request.json()
            job = _job_from_body(engine, body)
        except (ValueError, TypeError, json.JSONDecodeError) as e:
            return _error(400, f"bad request: {e}")
        loop = asyncio.get_running_loop()
        fut: asyncio.Future = loop.create_future()

        def done(j: Job) -> None:
            loop.call_soon_threadsafe(lambda: fut.done() or fut.set_result(j))

        job.done = done
        try:
            engine.submit(job)
        except EngineError as e:
            return _error(400, str(e))
        try:
            await fut
        finally:
            job.cancelled = True  # a client that went away frees its slot at the next step
        if job.error:
            return _error(500, job.error)
        return JSONResponse(_completion(job, alias))

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


def _completion(job: Job, alias: str) -> dict:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": alias,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": job.text},
                "finish_reason": job.finish_reason,
            }
        ],
        "usage": {
            "prompt_tokens": len(job.prompt),
            "completion_tokens": job.completion_tokens,
            "total_tokens": len(job.prompt) + job.completion_tokens,
            "cached_prompt_tokens": job.shared_tokens,
        },
    }


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
