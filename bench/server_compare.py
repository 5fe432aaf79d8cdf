"""Task-model throughput and repeatability: llama-cpp-python's server vs upstream llama-server.

Sends the same 40 greedy BBH date_understanding requests (test split, seed 0) through our LLM
wrapper, twice: at concurrency 8, then in reverse order at concurrency 3, with no response cache.
Prints requests/s for both passes, accuracy, and how many of the 40 answers were identical
between the passes (repeatable answers: 40/40).

Configurations: `python` is contrastprompt's default (two llama-cpp-python server processes, one
thread each, fresh KV cache for sampled requests only); the `llama-server` ones need the upstream
binary (build it from llama-cpp-python's vendored llama.cpp; see docs/adr/0002-task-server.md):
  A  one process, 4 parallel slots, 2 threads, no prompt cache
  B  two processes, 1 slot, 1 thread each, prompt cache on (prefix reuse)
  C  two processes, 1 slot, 1 thread each, no prompt cache
  D  one process, 4 parallel slots, 2 threads, prompt cache on

    python bench/server_compare.py --llama-server /path/to/llama-server
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import time

from contrastprompt.data import load_task
from contrastprompt.llm import LLM, ModelHub
from contrastprompt.llm.local import PooledBackend, _free_port, local_model_path
from contrastprompt.llm.openai_backend import OpenAIBackend
from contrastprompt.scoring import evaluate_async

PROMPT = "Answer the question. End with 'Answer: <option>'."
CONFIGS = {  # name: (processes, slots, threads, prompt cache)
    "A": (1, 4, 2, False),
    "B": (2, 1, 1, True),
    "C": (2, 1, 1, False),
    "D": (1, 4, 2, True),
}


async def passes(urls: list[str]) -> tuple[float, float, float, float, int]:
    from contrastprompt.llm.local import sampling_overrides

    task = load_task("bbh:date_understanding")
    exs = task.split(0)[1][:40]

    async def one(conc: int, order: list) -> tuple[float, dict, float]:
        b = PooledBackend(
            [
                OpenAIBackend("local", base_url=u, model_id="x", extra_body=sampling_overrides())
                for u in urls
            ],
            "x",
        )
        llm = LLM(b, max_concurrency=conc)
        t0 = time.monotonic()
        r = await evaluate_async(PROMPT, order, task, llm)
        dt = time.monotonic() - t0
        await b.aclose()
        return dt, {x.example_id: x.output for x in r.records}, r.score

    await one(4, exs[:4])  # warm up
    dt1, o1, s1 = await one(8, exs)
    dt2, o2, s2 = await one(3, list(reversed(exs)))
    return 40 / dt1, 40 / dt2, s1, s2, sum(o1[k] == o2[k] for k in o1)


def start_llama_server(binary: str, gguf: str, n: int, slots: int, threads: int, cache: bool):
    procs, urls = [], []
    for _ in range(n):
        port = _free_port()
        cmd = [binary, "-m", gguf, "--host", "127.0.0.1", "--port", str(port)]
        cmd += ["-c", str(2048 * slots), "-np", str(slots), "-t", str(threads)]
        cmd += ["-tb", str(threads), "-a", "local", "--no-webui"]
        cmd += [] if cache else ["--no-cache-prompt"]
        procs.append(subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        urls.append(f"http://127.0.0.1:{port}/v1")
    time.sleep(4)
    return procs, urls


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--llama-server", default=None, help="path of the upstream binary")
    a = ap.parse_args()
    print(f"{'config':>8} {'req/s c8':>9} {'req/s c3':>9} {'acc':>11} {'repeat':>7}")
    hub = ModelHub()
    hub.start("local:smollm2-135m")  # the same GGUF the llama-server configurations load
    urls = next(iter(hub.servers.values())).base_urls
    r = asyncio.run(passes(urls))
    hub.close()
    print(f"{'python':>8} {r[0]:>9.2f} {r[1]:>9.2f} {r[2]:>5.3f}/{r[3]:.3f} {r[4]:>4}/40")
    if not a.llama_server:
        return
    gguf = str(local_model_path("smollm2-135m"))
    for name, (n, slots, threads, cache) in CONFIGS.items():
        procs, urls = start_llama_server(a.llama_server, gguf, n, slots, threads, cache)
        try:
            r = asyncio.run(passes(urls))
        finally:
            for p in procs:
                p.terminate()
                p.wait()
        print(f"{name:>8} {r[0]:>9.2f} {r[1]:>9.2f} {r[2]:>5.3f}/{r[3]:.3f} {r[4]:>4}/40")


if __name__ == "__main__":
    main()
