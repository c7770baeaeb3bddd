"""Jinja2 templates (autoescaped) and static files, found in the checkout or in the installed wheel."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import HTMLResponse

_PKG = Path(__file__).resolve().parent.parent  # shortener/


def _find(name: str) -> Path:
    # A wheel carries templates/ and static/ inside the package; a checkout has them beside it.
    for candidate in (_PKG / name, _PKG.parent / name):
        if candidate.is_dir():
            return candidate
    raise RuntimeError(f"cannot find the {name}/ folder")


TEMPLATES_DIR = _find("templates")
STATIC_DIR = _find("static")

env = Environment(
    loader=FileSystemLoader(str(TEMPLATES_DIR)),
    autoescape=select_autoescape(default=True, default_for_string=True),
    auto_reload=False,
)


def render_text(name: str, context: dict[str, Any]) -> str:
    return env.get_template(name).render(**context)


def render(name: str, context: dict[str, Any], *, status_code: int = 200, headers=None) -> HTMLResponse:
    return HTMLResponse(render_text(name, context), status_code=status_code, headers=headers)
