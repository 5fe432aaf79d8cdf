"""Read and write speeds of the installed engine build, for the ADR on how it is built.

    python bench/engine_builds.py --label dispatch --out bench/results/engine_builds.json

Measures, in this process (2 threads), each local model's prompt tokens read and tokens written
per second with `contrastprompt.llm.engine.measure_speed` (a 256-token prompt, 32 greedy tokens,
`--repeats` times), and records them under `--label` with what the engine reports of itself
(build kind, loaded CPU variant, instruction sets). Run it once per build, each in a venv holding
that build, with nothing else running on the machine. `--gguf name=path` measures a model file
directly (a venv without the model packages); otherwise the installed catalogue models.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path

from contrastprompt.llm import engine
from contrastprompt.llm.catalogue import catalogue, gguf_path, installed


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--label", required=True, help="name of the build, e.g. native, dispatch")
    ap.add_argument("--out", type=Path, default=Path("bench/results/engine_builds.json"))
    ap.add_argument("--models", default="qwen2.5-coder-1.5b,qwen2.5-coder-0.5b")
    ap.add_argument("--gguf", action="append", default=[], help="name=path of a model file")
    ap.add_argument("--repeats", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=2, help="measure every model this many times")
    ap.add_argument("--variant", help="load this CPU variant of a runtime-dispatch build")
    args = ap.parse_args()
    if args.variant:
        engine.load_backends(args.variant)
    files = dict(g.split("=", 1) for g in args.gguf)
    cat = catalogue()
    for name in args.models.split(","):
        if name not in files and name in cat and installed(cat[name]):
            files[name] = str(gguf_path(cat[name]))
    built = engine.describe()
    speeds: dict[str, list[dict]] = {name: [] for name in files}
    for _ in range(args.rounds):
        for name, path in files.items():
            speeds[name].append(engine.measure_speed(Path(path), repeats=args.repeats))
            print(args.label, name, speeds[name][-1], flush=True)
    data = json.loads(args.out.read_text()) if args.out.exists() else {}
    data[args.label] = {
        "engine": {k: built[k] for k in ("llama_cpp_python", "build", "variant", "instructions")},
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {_cpu_model()}",
        "speeds": speeds,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=1) + "\n")


if __name__ == "__main__":
    main()
