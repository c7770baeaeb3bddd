"""Time in the one format the API and the database use: ISO-8601 UTC, milliseconds, `Z`."""
from __future__ import annotations

from datetime import datetime, timezone


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    dt = dt.astimezone(timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def now_iso() -> str:
    return iso(utcnow())  # type: ignore[return-value]


def parse_iso(value: str) -> datetime:
    """Parse ISO-8601 (with `Z`, an offset, or naive meaning UTC); raises ValueError."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("empty date")
    v = value.strip()
    if v.endswith(("Z", "z")):
        v = v[:-1] + "+00:00"
    dt = datetime.fromisoformat(v)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    try:
        return dt.astimezone(timezone.utc)
    except OverflowError:
        # 0001-01-01T00:00:00+14:00 is a valid date whose UTC time is before year 1
        raise ValueError("date out of range") from None
