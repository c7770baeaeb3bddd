"""The one rule for text and numbers that come in (API bodies and parameters, CLI arguments):
whatever cannot be stored or encoded is refused where it enters, with a 422 naming the field."""
from __future__ import annotations

import math
from typing import Any

from shortener.errors import Unprocessable

# What SQLite's INTEGER holds; a JSON number outside it is refused rather than stored as text.
INT_RANGE = 2**63 - 1


def bad_text(value: str) -> str | None:
    """Why `value` cannot be taken as text (None if it can): a lone surrogate encodes to nothing
    (not UTF-8, not SQLite text, not a URL), and NUL ends a C string in SQLite's functions, headers
    and host names. No API value is meant to hold either."""
    if "\x00" in value:
        return "Invalid string: contains a NUL character"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "Invalid string: contains a lone surrogate"
    return None


def _path(parent: str, part: object) -> str:
    return f"{parent}.{part}" if parent else str(part)


def check_value(value: Any, where: str = "") -> None:
    """Refuse, with a 422 naming the field (zod's dotted path), any string or object key that
    cannot be stored or encoded, and any number outside what can be stored, anywhere in a
    parsed JSON value. Iterative: nesting depth is bounded only by the parser."""
    stack: list[tuple[Any, str]] = [(value, where)]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            problem = bad_text(item)
            if problem:
                raise Unprocessable(problem, field=path or "body", issue="invalid_string")
        elif isinstance(item, dict):
            for key, sub in item.items():
                problem = bad_text(key)
                if problem:
                    # the key itself cannot be quoted; name the object that holds it
                    raise Unprocessable(problem.replace("string", "key"), field=path or "body",
                                        issue="invalid_string")
                stack.append((sub, _path(path, key)))
        elif isinstance(item, list):
            stack.extend((sub, _path(path, i)) for i, sub in enumerate(item))
        elif isinstance(item, float) and not math.isfinite(item) or isinstance(item, int) and abs(item) > INT_RANGE:
            raise Unprocessable("Number out of range.", field=path or "body", issue="too_big")
