"""What the installed local engine (llama-cpp-python's llama.cpp) is, as built, on this CPU.

Why this module: the speed of every local run depends on which CPU instructions the engine's
matrix kernels use, and that is fixed when llama.cpp is compiled, not when it is installed from
pip's wheel cache. The supported build (ADR 0005) compiles every x86 CPU variant of ggml's CPU
backend into its own shared library (`GGML_BACKEND_DL`, `GGML_CPU_ALL_VARIANTS`) and picks the
best one for the CPU at load time, so a wheel built on one machine runs on another at that
machine's own speed. Such a build registers no backend until one is loaded: `load_backends` does
it once per process, before any model is opened. A build of one variant (the default of
llama-cpp-python's sdist) needs nothing loaded; `check_cpu` refuses one compiled for
instructions this CPU lacks, with the reinstall line, instead of letting it crash mid-run.

`measure_speed` reads and writes with one model in-process (2 threads, a 256-token prompt) so
that `contrastprompt models --measure` reports what this engine does here, not a catalogue
figure taken on another build; measurements are kept per engine build in the user's cache.
"""

from __future__ import annotations

import ctypes
import json
import statistics
import time
from pathlib import Path

from ..errors import UserError

REINSTALL = (
    'CMAKE_ARGS="-DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON -DGGML_NATIVE=OFF" '
    "pip install --force-reinstall --no-deps --no-cache-dir llama-cpp-python==0.3.36"
)
# llama.cpp's feature names -> the /proc/cpuinfo flags that carry them
_CPU_FLAGS = {
    "AVX": "avx",
    "AVX2": "avx2",
    "F16C": "f16c",
    "FMA": "fma",
    "BMI2": "bmi2",
    "AVX512": "avx512f",
    "AVX512_VBMI": "avx512vbmi",
    "AVX512_VNNI": "avx512_vnni",
    "AVX512_BF16": "avx512_bf16",
    "AVX_VNNI": "avx_vnni",
    "AMX_INT8": "amx_int8",
}


def _package_dir() -> Path:
    """llama_cpp's folder, found without importing it: the import loads libllama, which a
    server start's CPU check in the CLI process has no use for."""
    from importlib.util import find_spec

    spec = find_spec("llama_cpp")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("llama_cpp")
    return Path(spec.origin).parent


def lib_dir() -> Path:
    """Where a runtime-dispatch build's CPU variants are: llama-cpp-python's wheel installs
    llama.cpp's backend modules under the install's `bin` folder, which for a wheel is
    site-packages/bin; its own libraries sit in llama_cpp/lib."""
    pkg = _package_dir()
    for d in (pkg / "lib", pkg.parent / "bin"):
        if any(d.glob("libggml-cpu-*.so")):
            return d
    return pkg / "lib"


def variants(directory: Path | None = None) -> list[str]:
    """The CPU variants a runtime-dispatch build ships (empty for a one-variant build)."""
    d = directory or lib_dir()
    return sorted(p.name[len("libggml-cpu-") : -3] for p in d.glob("libggml-cpu-*.so"))


def load_backends(variant: str | None = None) -> str | None:
    """Load the best CPU variant of a runtime-dispatch build into this process, once; the
    variant's name, or None for a one-variant build (which registers its backend itself).
    `variant` loads that one instead (bench/engine_builds.py: one build, several kernels).
    A second call loads nothing more: the first variant loaded stays the process's."""
    d = lib_dir()
    if not variants(d):
        return None
    if loaded_variant():
        return loaded_variant()
    from llama_cpp import _logger

    _logger.set_verbose(False)  # ggml would print a line for every backend it loads
    # the libggml that libllama itself links (its soname, beside it): the wheel holds copies of
    # it under other names, and a copy loaded by another path would be a second registry
    ggml = ctypes.CDLL(str(_package_dir() / "lib" / "libggml.so.0"))
    if variant:
        fn = ggml.ggml_backend_load
        fn.argtypes, fn.restype = [ctypes.c_char_p], ctypes.c_void_p
        if not fn(str(d / f"libggml-cpu-{variant}.so").encode()):
            raise UserError(f"CPU variant '{variant}' did not load", field="variant")
    else:
        fn = ggml.ggml_backend_load_all_from_path
        fn.argtypes, fn.restype = [ctypes.c_char_p], None
        fn(str(d).encode())
    return loaded_variant()


def loaded_variant() -> str | None:
    """Which libggml-cpu-<variant>.so this process mapped (Linux: /proc/self/maps)."""
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return None
    for line in maps.splitlines():
        name = line.rsplit("/", 1)[-1]
        if name.startswith("libggml-cpu-") and name.endswith(".so"):
            return name[len("libggml-cpu-") : -3]
    return None


def features(system_info: str) -> list[str]:
    """Instruction sets an engine's `llama_print_system_info` reports as on (`AVX2 = 1`)."""
    out = []
    for part in system_info.replace("\n", "|").split("|"):
        name, _, value = part.rpartition("=")
        name = name.split(":")[-1].strip()
        if value.strip() == "1" and name in _CPU_FLAGS:
            out.append(name)
    return out


def cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def missing(used: list[str], flags: set[str]) -> list[str]:
    """The instruction sets in `used` that a CPU with `flags` lacks (none when flags unknown)."""
    if not flags:
        return []
    return [f for f in used if _CPU_FLAGS[f] not in flags]


def system_info() -> str:
    import llama_cpp

    load_backends()
    return llama_cpp.llama_print_system_info().decode(errors="replace")


def check_cpu() -> str | None:
    """Refuse an engine compiled for instructions this CPU lacks (a one-variant build made on
    another machine and reused from a wheel cache), before it can crash a run. Returns a notice
    when a one-variant build leaves out instructions the CPU has (a generic build, say, reused
    from pip's wheel cache after the install line changed): it runs, slower."""
    if variants():
        return None  # runtime dispatch: the loader only picks variants this CPU can run
    used, flags = features(system_info()), cpu_flags()
    lacking = missing(used, flags)
    if lacking:
        raise UserError(
            f"the local engine was compiled for {', '.join(lacking)}, which this CPU lacks",
            hint=f"rebuild it for this machine: {REINSTALL}",
        )
    unused = [f for f, flag in _CPU_FLAGS.items() if flag in flags and f not in used]
    if unused:
        return (
            f"the local engine leaves out {', '.join(unused)}, which this CPU has; "
            f"rebuilt for it, prompts are read faster: {REINSTALL}"
        )
    return None


def describe() -> dict:
    """The engine as built and loaded here: version, build kind, variant, instruction sets."""
    import llama_cpp

    info = system_info()
    shipped = variants()
    return {
        "llama_cpp_python": llama_cpp.__version__,
        "build": "runtime dispatch" if shipped else "one variant",
        "variants": shipped,
        "variant": loaded_variant(),
        "instructions": features(info),
        "system_info": info.strip(),
    }


def fingerprint() -> str:
    d = describe()
    return f"{d['llama_cpp_python']}/{d['variant'] or d['build']}/{'+'.join(d['instructions'])}"


def _speeds_file() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("contrastprompt")) / "speeds.json"


def stored_speeds(path: Path | None = None) -> dict[str, dict]:
    """Speeds measured on this engine build, by model name (other builds' figures ignored)."""
    p = path or _speeds_file()
    try:
        data = json.loads(p.read_text())
    except (OSError, ValueError):
        return {}
    return data.get(fingerprint(), {}) if isinstance(data, dict) else {}


def store_speed(model: str, speed: dict, path: Path | None = None) -> None:
    p = path or _speeds_file()
    try:
        data = json.loads(p.read_text())
    except (OSError, ValueError):
        data = {}
    data.setdefault(fingerprint(), {})[model] = speed
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(data, indent=1))


def measure_speed(
    gguf: Path, threads: int = 2, prompt_tokens: int = 256, gen_tokens: int = 32, repeats: int = 3
) -> dict:
    """Prompt tokens read and tokens written per second, in-process: the median of `repeats`
    reads of a fresh `prompt_tokens` prompt and of `gen_tokens` greedy steps after it."""
    import llama_cpp

    load_backends()
    llm = llama_cpp.Llama(
        model_path=str(gguf),
        n_ctx=prompt_tokens + gen_tokens + 16,
        n_batch=512,
        n_threads=threads,
        n_threads_batch=threads,
        verbose=False,
    )
    text = "The quick brown fox jumps over the lazy dog near the river bank. " * 40
    tokens = llm.tokenize(text.encode())[:prompt_tokens]
    reads, writes = [], []
    for _ in range(repeats):
        llm.reset()
        t0 = time.perf_counter()
        llm.eval(tokens)
        t1 = time.perf_counter()
        for _ in range(gen_tokens):
            llm.eval([llm.sample(temp=0.0)])
        t2 = time.perf_counter()
        reads.append(len(tokens) / (t1 - t0))
        writes.append(gen_tokens / (t2 - t1))
    llm.close()
    return {
        "read": round(statistics.median(reads), 1),
        "write": round(statistics.median(writes), 1),
        "threads": threads,
        "reads": [round(r, 1) for r in reads],
        "writes": [round(w, 1) for w in writes],
    }
