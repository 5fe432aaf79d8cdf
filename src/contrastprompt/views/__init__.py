"""Views: HTML pages rendered from data with Jinja2 templates (`views/templates`). A view
computes nothing; it lays out what the run, the bench or the adaptation already measured."""

from __future__ import annotations

from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup


@cache
def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("contrastprompt.views", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["pct"] = lambda v: "-" if v is None else f"{v:.1%}"
    from . import charts  # the SVG charts, callable from templates (their output is markup)

    for name in ("bars", "curves", "heat"):
        env.globals[name] = _markup(getattr(charts, name))
    return env


def _markup(fn: Any) -> Any:
    def wrapped(*args: Any, **kwargs: Any) -> Markup:
        return Markup(fn(*args, **kwargs))

    return wrapped


def render(template: str, **data: Any) -> str:
    """`template` (a file under views/templates) filled with `data`, HTML-escaped."""
    return _env().get_template(template).render(**data)
