"""The local engine as built: which instructions it reports, which CPU variant a runtime-dispatch
build loads, the refusal of a build made for another CPU, and speeds kept per build."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest

from contrastprompt.errors import UserError
from contrastprompt.llm import engine

NATIVE_INFO = (
    "CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 1 | F16C = 1 | FMA = 1 | BMI2 = 1 | "
    "AVX512 = 1 | AVX512_VBMI = 1 | AVX512_VNNI = 1 | AVX512_BF16 = 1 | LLAMAFILE = 1 | "
    "OPENMP = 1 | REPACK = 1 |"
)
GENERIC_INFO = "CPU : SSE3 = 1 | SSSE3 = 1 | AVX = 1 | AVX2 = 0 | AVX512 = 0 | OPENMP = 1 |"
needs_engine = pytest.mark.skipif(find_spec("llama_cpp") is None, reason="needs llama-cpp-python")


def test_features_are_the_instruction_sets_reported_on():
    assert engine.features(NATIVE_INFO) == [
        "AVX",
        "AVX2",
        "F16C",
        "FMA",
        "BMI2",
        "AVX512",
        "AVX512_VBMI",
        "AVX512_VNNI",
        "AVX512_BF16",
    ]
    assert engine.features(GENERIC_INFO) == ["AVX"]


def test_a_build_for_instructions_the_cpu_lacks_is_named():
    avx2_cpu = {"avx", "avx2", "f16c", "fma", "bmi2", "sse4_2"}
    assert engine.missing(engine.features(NATIVE_INFO), avx2_cpu) == [
        "AVX512",
        "AVX512_VBMI",
        "AVX512_VNNI",
        "AVX512_BF16",
    ]
    assert engine.missing(engine.features(GENERIC_INFO), avx2_cpu) == []
    assert engine.missing(["AVX512"], set()) == []  # flags unknown: nothing is claimed


def test_check_cpu_refuses_a_one_variant_build_made_for_another_cpu(monkeypatch):
    monkeypatch.setattr(engine, "variants", lambda directory=None: [])
    monkeypatch.setattr(engine, "system_info", lambda: NATIVE_INFO)
    monkeypatch.setattr(engine, "cpu_flags", lambda: {"avx", "avx2", "fma", "f16c", "bmi2"})
    with pytest.raises(UserError) as e:
        engine.check_cpu()
    assert "AVX512_VNNI" in str(e.value) and "GGML_CPU_ALL_VARIANTS" in e.value.hint
    monkeypatch.setattr(engine, "variants", lambda directory=None: ["haswell", "icelake"])
    engine.check_cpu()  # runtime dispatch picks what the CPU runs: nothing to refuse


def test_variants_are_read_from_the_shipped_libraries(tmp_path):
    for name in ("libggml-cpu-haswell.so", "libggml-cpu-icelake.so", "libggml-base.so"):
        (tmp_path / name).write_bytes(b"")
    assert engine.variants(tmp_path) == ["haswell", "icelake"]
    assert engine.variants(tmp_path / "none") == []


def test_speeds_are_kept_per_engine_build(tmp_path, monkeypatch):
    f = tmp_path / "speeds.json"
    monkeypatch.setattr(engine, "fingerprint", lambda: "0.3.36/haswell/AVX+AVX2")
    engine.store_speed("m", {"read": 50.0, "write": 20.0}, f)
    assert engine.stored_speeds(f) == {"m": {"read": 50.0, "write": 20.0}}
    monkeypatch.setattr(engine, "fingerprint", lambda: "0.3.36/icelake/AVX+AVX2+AVX512")
    assert engine.stored_speeds(f) == {}  # another build: its figures do not stand for this one
    engine.store_speed("m", {"read": 80.0, "write": 24.0}, f)
    assert len(json.loads(f.read_text())) == 2


@needs_engine
def test_the_installed_engine_uses_only_what_this_cpu_has_and_says_which():
    d = engine.describe()
    assert d["instructions"], d
    assert engine.missing(d["instructions"], engine.cpu_flags()) == []
    if d["variants"]:  # runtime dispatch: the loaded variant is one of those shipped
        assert d["variant"] in d["variants"]


@needs_engine
def test_models_prints_the_engine_as_built(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "contrastprompt", "models", "--no-check", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).parent,
    )
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["engine"]["instructions"] == engine.describe()["instructions"]
    assert data["engine"]["line"].startswith("local engine: llama-cpp-python")
    assert any(m["model"] == "local:qwen2.5-coder-1.5b" for m in data["models"])


def test_a_build_that_leaves_out_what_the_cpu_has_runs_with_a_notice(monkeypatch):
    monkeypatch.setattr(engine, "variants", lambda directory=None: [])
    monkeypatch.setattr(engine, "system_info", lambda: GENERIC_INFO.replace("AVX2 = 0", "AVX2 = 1"))
    monkeypatch.setattr(engine, "cpu_flags", lambda: {"avx", "avx2", "avx512f", "avx512_vnni"})
    notice = engine.check_cpu()
    assert notice and "AVX512, AVX512_VNNI" in notice and "GGML_CPU_ALL_VARIANTS" in notice
    monkeypatch.setattr(engine, "cpu_flags", lambda: {"avx", "avx2"})
    assert engine.check_cpu() is None
