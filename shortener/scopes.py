"""API key scopes: Dub's names, what each grants, and the check an endpoint makes.

Dub (apps/web/lib/api/tokens/scopes.ts, rbac/permissions.ts) names permissions `<resource>.read`
and `<resource>.write`; a `.write` scope also grants the `.read` one, `apis.all` grants everything
and `apis.read` every `.read`. `customers.*` is ours: Dub's customer routes ask for no permission,
and a key that only posts leads should not be able to delete customers.

A key stores its scopes as given; None means every scope (keys made before scopes existed, and
keys created without --scope).
"""
from __future__ import annotations

import functools

from shortener.errors import Forbidden, Unprocessable

RESOURCES: dict[str, str] = {
    "links": "short links (/links)",
    "analytics": "analytics and events (/analytics, /events)",
    "conversions": "tracking leads and sales (/track/lead, /track/sale)",
    "customers": "customers (/customers)",
    "domains": "domains (/domains)",
    "tags": "tags (/tags)",
    "folders": "folders (/folders)",
    "webhooks": "webhooks (/webhooks)",
}
# Read-only and write-only resources, as in Dub: analytics can only be read, conversions only written.
_ONLY = {"analytics": ("read",), "conversions": ("write",)}

SCOPES: tuple[str, ...] = tuple(
    f"{resource}.{access}" for resource in RESOURCES for access in _ONLY.get(resource, ("read", "write"))
)
ALIASES = {"apis.all": SCOPES, "apis.read": tuple(s for s in SCOPES if s.endswith(".read"))}
ACCEPTED = frozenset(SCOPES) | frozenset(ALIASES)


def normalise(names: list[str] | tuple[str, ...] | None) -> str | None:
    """The stored form of the scopes a key is created with: None (all) or space-separated names."""
    if not names:
        return None
    out: list[str] = []
    for name in names:
        for part in name.replace(",", " ").split():
            part = part.strip().lower()
            if part not in ACCEPTED:
                raise Unprocessable(f"Unknown scope {part!r}; one of: {', '.join(sorted(ACCEPTED))}.",
                                    field="scopes", issue="invalid_enum_value")
            if part not in out:
                out.append(part)
    return " ".join(out) if out else None


@functools.lru_cache(maxsize=256)
def granted(stored: str | None) -> frozenset[str]:
    """Every scope a key holds, aliases and implied reads expanded."""
    if stored is None:
        return frozenset(SCOPES)
    out: set[str] = set()
    for name in stored.split():
        for scope in ALIASES.get(name, (name,)):
            out.add(scope)
            if scope.endswith(".write"):
                out.add(scope[: -len("write")] + "read")
    return frozenset(out)


def require(key_row: dict, scope: str) -> None:
    """403 forbidden in Dub's words when the key lacks `scope`."""
    if scope not in granted(key_row.get("scopes")):
        raise Forbidden(
            "The provided key does not have the required permissions for this endpoint. "
            f"Having the '{scope}' permission would allow this request to continue."
        )


def describe(stored: str | None) -> str:
    return "all" if stored is None else stored
