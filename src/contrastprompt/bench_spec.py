"""A bench as one declarative spec file (TOML, or JSON with the same keys), checked whole before
any model starts: `contrastprompt bench --spec bench/specs/public.toml`.

A spec names the tasks, the methods (each a label with its registered method and settings), the
seeds, the profile (sizes and limits), the models, the prompt every method starts from (one, or
one a task), the split rule and the results folder. A wrong key, an unknown task, method,
setting or model is one line naming the file and the key. `extends = "other.toml"` starts from
another spec and replaces the keys given (tables key by key), so a larger budget or another
start prompt is a short file that says only what differs.
"""

from __future__ import annotations

import json
import re
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any

from .bench import BenchConfig, Profile, check_targets, expand_tasks
from .data.task import Task
from .errors import UserError
from .inputs import resolve_task
from .llm import parse_model
from .llm.catalogue import lookup
from .optimizers import OPTIMIZERS, base_name, build_optimizer, parse_settings

TOP = {
    "name": str,
    "extends": str,
    "out": str,
    "tasks": list,
    "seeds": list,
    "methods": dict,
    "reference": str,
    "profile": dict,
    "models": dict,
    "prompt": (str, dict),
    "split_seed": int,
}
PROFILE = {
    "name": str,
    "n_train": int,
    "n_val": int,
    "test_limit": int,
    "budget": int,
    "max_optimizer_calls": int,
    "iterations": int,
}
MODELS = {"task": str, "optimizer": str}
RESERVED = {"method", "seeds"}  # keys of a method's table that are not its settings
LABEL = re.compile(r"^[A-Za-z0-9_.+=-]+$")


@dataclass
class BenchSpec:
    """A checked spec: everything a `BenchConfig` needs, plus the loaded tasks."""

    path: Path
    name: str
    out: Path
    tasks: list[str]
    seeds: list[int]
    methods: list[str]
    variants: dict[str, tuple[str, dict[str, Any]]]
    only_seeds: dict[str, list[int]]
    reference: str
    profile: Profile
    iterations: int
    model: str
    optimizer_model: str | None
    prompt: str | None
    prompts: dict[str, str]
    split_seed: int | None
    loaded: dict[str, Task] = field(default_factory=dict)

    def config(self, **overrides: Any) -> BenchConfig:
        """The bench this spec describes (`overrides`: root, data_root, concurrency, only)."""
        kw: dict[str, Any] = {
            "tasks": self.tasks,
            "methods": self.methods,
            "seeds": self.seeds,
            "root": self.out,
            "profile": self.profile,
            "model": self.model,
            "optimizer_model": self.optimizer_model,
            "split_seed": self.split_seed,
            "iterations": self.iterations,
            "prompt": self.prompt,
            "prompts": self.prompts,
            "reference": self.reference,
            "only_seeds": self.only_seeds,
            "variants": self.variants,
        }
        return BenchConfig(**(kw | {k: v for k, v in overrides.items() if v is not None}))


def read_file(path: Path) -> dict[str, Any]:
    """The raw tables of a spec file: TOML through tomllib (Python 3.11+) or tomli where it is
    installed, JSON by its suffix."""
    src = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UserError(f"cannot read the spec: {exc.strerror}", source=src) from None
    if path.suffix == ".json":
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise UserError(f"not JSON: {exc.msg}", source=src, line=exc.lineno) from None
    else:
        data = _toml(text, src)
    if not isinstance(data, dict):
        raise UserError("a spec is a table of keys", source=src)
    return data


def _toml(text: str, src: str) -> dict[str, Any]:
    try:
        import tomllib as toml
    except ImportError:  # Python 3.10
        try:
            import tomli as toml  # type: ignore[no-redef]
        except ImportError:
            raise UserError(
                "reading a TOML spec needs Python 3.11 or the tomli package",
                source=src,
                hint="pip install tomli, or write the spec as JSON",
            ) from None
    try:
        return toml.loads(text)
    except toml.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+)", str(exc))
        why = re.sub(r"\s*\(at line.*\)$", "", str(exc))
        raise UserError(
            f"not TOML: {why}", source=src, line=int(m.group(1)) if m else None
        ) from None


def merged(path: Path, depth: int = 0) -> dict[str, Any]:
    """The spec's keys over those of the spec it extends (tables merged key by key, a method's
    table replaced whole), its paths made relative to the file that gave them."""
    data = read_file(path)
    for key in ("out",):
        if isinstance(data.get(key), str):
            data[key] = str((path.parent / data[key]).resolve())
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str) or depth > 8:
        raise UserError(
            "names another spec file, at most 8 deep", source=str(path), field="extends"
        )
    base = merged(path.parent / parent, depth + 1)
    for key, value in data.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = base[key] | value
        else:
            base[key] = value
    return base


def _typed(table: dict[str, Any], known: dict[str, Any], where: str, src: str) -> None:
    """Every key known and of its type, else one line naming it."""
    for key, value in table.items():
        if key not in known:
            raise UserError(
                "unknown key", source=src, field=where + key, hint="known: " + ", ".join(known)
            )
        kind = known[key]
        if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            raise UserError(f"takes {_kind(kind)}, not {value!r}", source=src, field=where + key)
        if not isinstance(value, kind):
            raise UserError(f"takes {_kind(kind)}, not {value!r}", source=src, field=where + key)


def _kind(kind: Any) -> str:
    names = {str: "a string", int: "an integer", list: "a list", dict: "a table", float: "a number"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def load_spec(path: str | Path, data_root: str | Path | None = None) -> BenchSpec:
    """The spec in `path`, checked: every key, task, method, setting and model, and that each
    task's split holds the profile's sizes. Nothing is run."""
    path = Path(path)
    src = str(path)
    raw = merged(path)
    _typed(raw, TOP, "", src)
    for key in ("tasks", "seeds", "methods", "out"):
        if not raw.get(key):
            raise UserError("missing or empty", source=src, field=key)
    seeds = raw["seeds"]
    if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds):
        raise UserError("a list of integers of 0 or more", source=src, field="seeds")
    profile, iterations = _profile(raw.get("profile", {}), src)
    models = raw.get("models", {})
    _typed(models, MODELS, "models.", src)
    for role in ("task", "optimizer"):
        if role in models:
            _check_model(models[role], src, f"models.{role}")
    methods, variants, only = _methods(raw["methods"], seeds, src)
    reference = raw.get("reference", "lcp" if "lcp" in methods else methods[0])
    if reference not in methods:
        raise UserError(f"'{reference}' is not one of the methods", source=src, field="reference")
    tasks, loaded = _tasks(raw["tasks"], src, data_root)
    prompt, prompts = _prompts(raw.get("prompt"), tasks, src)
    spec = BenchSpec(
        path=path,
        name=str(raw.get("name", path.stem)),
        out=Path(raw["out"]),
        tasks=tasks,
        seeds=list(dict.fromkeys(seeds)),
        methods=methods,
        variants=variants,
        only_seeds=only,
        reference=reference,
        profile=profile,
        iterations=iterations,
        model=models.get("task", "local"),
        optimizer_model=models.get("optimizer"),
        prompt=prompt,
        prompts=prompts,
        split_seed=raw.get("split_seed"),
        loaded=loaded,
    )
    _check_sizes(spec, src)
    return spec


def _profile(table: dict[str, Any], src: str) -> tuple[Profile, int]:
    _typed(table, PROFILE, "profile.", src)
    for key in ("n_train", "budget"):
        if key not in table:
            raise UserError("missing", source=src, field=f"profile.{key}")
    for key, value in table.items():
        least = 0 if key == "n_val" else 1
        if isinstance(value, int) and value < least:
            raise UserError(
                f"must be at least {least}, got {value}", source=src, field=f"profile.{key}"
            )
    if table["budget"] < table["n_train"]:
        raise UserError(
            f"a budget of {table['budget']} cannot score the start prompt on {table['n_train']} "
            "training items",
            source=src,
            field="profile.budget",
        )
    profile = Profile(
        name=table.get("name", "spec"),
        n_train=table["n_train"],
        test_limit=table.get("test_limit"),
        budget=table["budget"],
        max_optimizer_calls=table.get("max_optimizer_calls"),
        n_val=table.get("n_val", 0),
    )
    return profile, table.get("iterations", 50)


def _check_model(model: str, src: str, where: str) -> None:
    try:
        provider, name = parse_model(model)
        if provider == "local":
            lookup(name)
    except UserError as exc:
        raise UserError(_own(exc), source=src, field=where) from None


def _own(exc: UserError) -> str:
    """A UserError's message without the field it named (the spec's key replaces it)."""
    return re.sub(r"^field '[^']*': ", "", str(exc))


def _methods(
    table: dict[str, Any], seeds: list[int], src: str
) -> tuple[list[str], dict[str, tuple[str, dict[str, Any]]], dict[str, list[int]]]:
    """Labels in order, each with its method and settings (checked by building the method),
    and the seeds a method is limited to."""
    variants: dict[str, tuple[str, dict[str, Any]]] = {}
    only: dict[str, list[int]] = {}
    for label, own in table.items():
        where = f"methods.{label}"
        if not LABEL.match(label):
            raise UserError("a label of letters, digits and _ . + = -", source=src, field=where)
        if not isinstance(own, dict):
            raise UserError("takes a table of settings ({} for none)", source=src, field=where)
        base = own.get("method", base_name(label))
        if base not in OPTIMIZERS:
            raise UserError(
                f"unknown method '{base}'",
                source=src,
                field=where + (".method" if "method" in own else ""),
                hint="known: " + ", ".join(OPTIMIZERS),
            )
        settings = _settings(label, base, own, src)
        try:
            build_optimizer(base, **settings)
        except UserError as exc:
            raise UserError(_own(exc), source=src, field=where) from None
        variants[label] = (base, settings)
        if "seeds" in own:
            limited = own["seeds"]
            if not isinstance(limited, list) or not set(limited) <= set(seeds):
                raise UserError("a list of the spec's seeds", source=src, field=where + ".seeds")
            only[label] = limited
    return list(variants), variants, only


def _settings(label: str, base: str, own: dict[str, Any], src: str) -> dict[str, Any]:
    """The settings a label runs: those its name gives (`lcp+screen=10`, when no `method` key
    says otherwise), then its table's, each of the type of the setting's default."""
    cls = OPTIMIZERS[base]
    known = {f.name: f for f in fields(cls.Settings)}
    named = label.partition("+")[2] if "method" not in own else ""
    try:
        settings = parse_settings(base, named.split("+")) if named else {}
    except UserError as exc:
        raise UserError(_own(exc), source=src, field=f"methods.{label}") from None
    for key, value in own.items():
        if key in RESERVED:
            continue
        where = f"methods.{label}.{key}"
        if key not in known:
            raise UserError(
                f"{base} has no setting '{key}'",
                source=src,
                field=where,
                hint="its settings: " + ", ".join(known),
            )
        default = known[key].default
        if default is not MISSING and default is not None and not _fits(value, default):
            raise UserError(f"takes {_kind(type(default))}, not {value!r}", source=src, field=where)
        settings[key] = value
    return settings


def _fits(value: Any, default: Any) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    return isinstance(value, type(default))


def _tasks(
    names: list[Any], src: str, data_root: str | Path | None
) -> tuple[list[str], dict[str, Task]]:
    out: list[str] = []
    for i, name in enumerate(names):
        if not isinstance(name, str):
            raise UserError(f"a task name, not {name!r}", source=src, field=f"tasks[{i}]")
        try:
            out += expand_tasks([name], data_root)
        except UserError as exc:
            raise UserError(_own(exc), source=src, field=f"tasks[{i}]") from None
    loaded: dict[str, Task] = {}
    for name in dict.fromkeys(out):
        try:
            loaded[name] = resolve_task(name, data_root=data_root)
        except UserError as exc:
            i = names.index(name) if name in names else 0
            raise UserError(_own(exc), source=src, field=f"tasks[{i}]") from None
    try:
        check_targets(loaded)
    except UserError as exc:
        raise UserError(_own(exc), source=src, field="tasks") from None
    return list(loaded), loaded


def _prompts(
    given: str | dict[str, Any] | None, tasks: list[str], src: str
) -> tuple[str | None, dict[str, str]]:
    """One start prompt for every task, or a table: `default` and one a task."""
    if given is None or isinstance(given, str):
        if given is not None and not given.strip():
            raise UserError("the start prompt is empty", source=src, field="prompt")
        return given, {}
    for key, value in given.items():
        if key != "default" and key not in tasks:
            raise UserError("not one of the spec's tasks", source=src, field=f"prompt.{key}")
        if not isinstance(value, str) or not value.strip():
            raise UserError("takes a prompt (a string)", source=src, field=f"prompt.{key}")
    return given.get("default"), {k: v for k, v in given.items() if k != "default"}


def _check_sizes(spec: BenchSpec, src: str) -> None:
    """Each task's split holds the profile's training and validation items and some test."""
    p = spec.profile
    for name, task in spec.loaded.items():
        try:
            task.split_parts(seed=spec.seeds[0], n_train=p.n_train, n_val=p.n_val)
        except UserError as exc:
            raise UserError(f"{name}: {_own(exc)}", source=src, field="profile.n_val") from None
