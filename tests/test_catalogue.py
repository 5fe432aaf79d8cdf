"""Named local models: pinned parts, verified assembly into the cache, clear errors."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from contrastprompt.errors import UserError
from contrastprompt.llm.catalogue import (
    LocalModel,
    Part,
    assemble,
    assembled_path,
    catalogue,
    gguf_path,
    installed,
    locate_installed,
)

REPO = Path(__file__).resolve().parents[1]


def make_model(tmp_path: Path, sizes=(3_000_000, 3_000_000, 1_234_567)) -> tuple[LocalModel, dict]:
    """A model of real part files on disk; `files` maps package -> path for the locator."""
    files, parts, whole = {}, [], hashlib.sha256()
    for i, n in enumerate(sizes, 1):
        data = os.urandom(n)
        path = tmp_path / "parts" / f"p{i}.bin"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
        whole.update(data)
        files[f"fake-part{i}"] = path
        parts.append(Part(f"fake-part{i}", f"data/p{i}.bin", n, hashlib.sha256(data).hexdigest()))
    model = LocalModel(
        name="fake",
        title="Fake",
        licence="none",
        extra="fake",
        upstream="test",
        version="1.0",
        bytes=sum(sizes),
        sha256=whole.hexdigest(),
        parts=tuple(parts),
        speed="-",
    )
    return model, files


def test_catalogue_pins_every_part_and_sizes_add_up():
    for m in catalogue().values():
        assert m.sha256 and len(m.sha256) == 64
        assert sum(p.bytes for p in m.parts) == m.bytes
        assert all(len(p.sha256) == 64 for p in m.parts)
    assert {"smollm2-135m", "qwen2.5-coder-1.5b", "qwen2.5-coder-0.5b", "gemma3-270m"} <= set(
        catalogue()
    )


def test_pyproject_extras_pin_the_catalogue_versions():
    text = (REPO / "pyproject.toml").read_text()
    for m in catalogue().values():
        for req in m.packages:
            assert f'"{req}"' in text or f'"{req}' in text, req


@pytest.mark.model  # needs the local extra's model package
def test_embedded_task_model_is_verified_in_place():
    m = catalogue()["smollm2-135m"]
    path = gguf_path(m)
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and path.stat().st_size == m.bytes


def test_assembly_writes_one_verified_file(tmp_path):
    model, files = make_model(tmp_path)
    out = assemble(model, tmp_path / "models", lambda m, p: files[p.package])
    assert out == assembled_path(model, tmp_path / "models")
    assert hashlib.sha256(out.read_bytes()).hexdigest() == model.sha256
    assert [p.name for p in out.parent.iterdir() if not p.name.endswith(".lock")] == [out.name]
    mtime = out.stat().st_mtime_ns
    assemble(model, tmp_path / "models", lambda m, p: files[p.package])  # second use: no rewrite
    assert out.stat().st_mtime_ns == mtime


def test_corrupt_part_names_the_package_and_leaves_nothing(tmp_path):
    model, files = make_model(tmp_path)
    data = bytearray(files["fake-part2"].read_bytes())
    data[1000] ^= 0xFF
    files["fake-part2"].write_bytes(bytes(data))
    with pytest.raises(UserError, match="fake-part2.*SHA-256.*--force-reinstall --no-deps"):
        assemble(model, tmp_path / "models", lambda m, p: files[p.package])
    assert not [p for p in (tmp_path / "models").iterdir() if not p.name.endswith(".lock")]


def test_missing_part_package_is_one_clear_line(tmp_path):
    model, _ = make_model(tmp_path)
    with pytest.raises(
        UserError, match=r"needs the package fake-part1==1\.0.*contrastprompt\[fake\]"
    ):
        assemble(model, tmp_path / "models", locate_installed)
    assert not installed(model)
    assert not (tmp_path / "models").exists()


def test_an_assembled_file_left_in_the_cache_does_not_stand_in_for_missing_packages(tmp_path):
    """`models` says a model is installed when its packages are; using it must agree, even when
    an earlier install left the assembled file in the cache."""
    model, files = make_model(tmp_path)
    out = assemble(model, tmp_path / "models", lambda m, p: files[p.package])
    with pytest.raises(UserError, match=r"needs the package fake-part1==1\.0"):
        assemble(model, tmp_path / "models", locate_installed)
    assert out.is_file() and not installed(model)


def test_two_processes_assembling_at_once_end_with_one_good_file(tmp_path):
    model, files = make_model(tmp_path, sizes=(20_000_000, 20_000_000, 5_000_000))
    spec = {
        "model": {**model.__dict__, "parts": [p.__dict__ for p in model.parts]},
        "files": {k: str(v) for k, v in files.items()},
        "dir": str(tmp_path / "models"),
    }
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    script = textwrap.dedent(
        """
        import json, sys
        from pathlib import Path
        from contrastprompt.llm.catalogue import LocalModel, Part, assemble
        s = json.loads(Path(sys.argv[1]).read_text())
        m = s["model"]; m["parts"] = tuple(Part(**p) for p in m["parts"])
        files = s["files"]
        print(assemble(LocalModel(**m), Path(s["dir"]), lambda _m, p: Path(files[p.package])))
        """
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(tmp_path / "spec.json")],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=120)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert outs[0] == outs[1]
    final = Path(outs[0])
    assert hashlib.sha256(final.read_bytes()).hexdigest() == model.sha256
    leftovers = [
        p.name for p in final.parent.iterdir() if p != final and not p.name.endswith(".lock")
    ]
    assert leftovers == []


@pytest.mark.model  # reads the local extra's installed model packages
def test_models_command_lists_the_catalogue(tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "contrastprompt", "models", "--no-check", "--json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    rows = {r["model"]: r for r in json.loads(out.stdout)["models"]}
    assert rows["local:smollm2-135m"]["installed"] is True
    assert rows["local:qwen2.5-coder-1.5b"]["size_mb"] == 1117
    assert rows["local:gemma3-270m"]["licence"] == "Gemma Terms of Use"


def test_unknown_local_model_exits_2(tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "contrastprompt",
            "evaluate",
            "--task",
            "bbh:navigate",
            "--prompt",
            "x",
            "--model",
            "local:nope",
            "--limit",
            "1",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert out.returncode == 2
    assert "unknown local model 'nope'" in out.stderr and "Traceback" not in out.stderr
