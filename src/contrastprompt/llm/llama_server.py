"""Entry point for the embedded model's server process: llama-cpp-python's OpenAI-compatible
server, optionally with a fresh KV cache for every request.

Why: the server reuses the longest common prompt prefix of the previous request, and the part
it recomputes is batched differently, which changes the logits slightly. Measured here: the same
sampled request (temperature 1.0, fixed seed) sent twice in a row gave two different texts, so a
resumed run could drift from an uninterrupted one. Greedy requests kept their answers (see the
README), and prefix reuse doubles their speed on short answers, so by default only sampled
requests (`temp > 0`) start from an empty cache (`CONTRASTPROMPT_FRESH_KV=sampled`); `all`
resets for every request, `none` never.

The process also watches its parent (`CONTRASTPROMPT_PARENT_PID`): when the CLI that started it
is gone, however it died (Ctrl-C, SIGTERM, SIGKILL), the server exits within a second instead of
living on re-parented to init.
"""

from __future__ import annotations

import os
import threading
import time


def watch_parent(parent: int, interval: float = 0.5) -> threading.Thread:
    """Exit this process as soon as `parent` is no longer its parent."""

    def run() -> None:
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(0)

    t = threading.Thread(target=run, name="watch-parent", daemon=True)
    t.start()
    return t


def main() -> None:
    parent = os.environ.get("CONTRASTPROMPT_PARENT_PID")
    if parent:
        watch_parent(int(parent))
    mode = os.environ.get("CONTRASTPROMPT_FRESH_KV", "sampled")
    if mode in ("sampled", "all"):
        import llama_cpp

        original = llama_cpp.Llama.generate

        def generate(self, tokens, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
            if mode == "all" or kwargs.get("temp", 0.8) > 0:
                self.reset()  # forget the previous prompt: no prefix reuse
            return original(self, tokens, *args, **kwargs)

        llama_cpp.Llama.generate = generate  # type: ignore[method-assign]
    from .engine import load_backends

    load_backends()  # a runtime-dispatch build registers its CPU variant before the model opens
    from llama_cpp.server.__main__ import main as serve

    serve()


if __name__ == "__main__":
    main()
