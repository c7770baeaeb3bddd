"""Untrusted visitor input, normalised once at the edge.

The request path only extracts what the answer and the dedup need (client IP, user agent,
referer, country, identity hash); the click writer later derives the rest (truncated IP,
referer host, parsed user agent) off the request path.
"""
from __future__ import annotations

import hashlib
import ipaddress
from functools import lru_cache
from urllib.parse import urlsplit

MAX_UA = 512
MAX_REFERER = 1024
MAX_URL = 2048  # of the final URL kept in a click row (the redirect itself uses the full URL)


@lru_cache(maxsize=4096)
def _peer_is_trusted(peer: str, trusted: tuple) -> bool:
    try:
        addr = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(addr in net for net in trusted)


def _forwarded_for(value: str) -> list[str]:
    """The `for=` values of an RFC 7239 `Forwarded` header, in order."""
    found = []
    for element in value.split(","):
        for pair in element.split(";"):
            name, _, val = pair.strip().partition("=")
            if name.lower() == "for" and val:
                found.append(val.strip('"'))
    return found


def _address(value: str) -> str | None:
    """The address in one hop (`1.2.3.4`, `1.2.3.4:5678`, `[2001:db8::1]:443`, `2001:db8::1`), or None."""
    value = value.strip()
    if value.startswith("["):
        value = value[1:].partition("]")[0]
    elif value.count(":") == 1:
        value = value.partition(":")[0]
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def client_ip(scope, headers: dict[bytes, bytes], trusted: tuple, header: bytes = b"x-forwarded-for") -> str:
    """The visitor's address: the TCP peer, unless the peer is a trusted proxy.

    Behind a trusted proxy only `header` is read (never another one as a fallback: a proxy that
    sets `Forwarded` passes a client's own `X-Forwarded-For` through untouched). Its chain is
    read from the right, skipping trusted hops, so a client cannot inject an address by sending
    its own value. Repeated header lines are one comma-separated list (RFC 9110 5.3).
    """
    client = scope.get("client")
    peer = client[0] if client else ""
    if not trusted or not _peer_is_trusted(peer, trusted) or header not in headers:
        return peer
    raw = ",".join(v.decode("latin-1") for k, v in scope["headers"] if k == header)
    chain = _forwarded_for(raw) if header == b"forwarded" else [p for p in raw.split(",") if p.strip()]
    for hop in reversed(chain):
        address = _address(hop)
        if address is None:
            return peer  # garbage where the client should be: believe nothing further left
        if not _peer_is_trusted(address, trusted):
            return address
    # every hop is a trusted proxy: the left-most is the nearest thing to a client
    return (_address(chain[0]) if chain else None) or peer


def identity_hash(salt: bytes, ip: str, user_agent: str) -> str:
    """Salted, so stored hashes cannot be reversed by hashing every IPv4 address."""
    return hashlib.blake2b(f"{ip}\x00{user_agent}".encode("utf-8", "replace"), key=salt, digest_size=16).hexdigest()


def text(value: bytes | None, limit: int) -> str:
    if not value:
        return ""
    return value[: limit * 4].decode("utf-8", "replace")[:limit]


def country(value: bytes | None) -> str | None:
    """A two-letter country code from the CDN header, or None (also for Cloudflare's XX/T1)."""
    if not value or len(value) != 2:
        return None
    code = value.decode("latin-1").upper()
    return code if code.isalpha() and code.isascii() and code not in ("XX", "T1") else None


@lru_cache(maxsize=8192)
def truncate_ip(ip: str) -> str | None:
    """IPv4 to its /24, IPv6 to its /48; None when it is not an address."""
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if addr.version == 6 and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    prefix = 24 if addr.version == 4 else 48
    return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False).network_address)


def referer_fields(referer: str) -> tuple[str, str]:
    """(host without `www.`, full URL), or "(direct)" twice, as Dub records them."""
    if not referer:
        return "(direct)", "(direct)"
    try:
        host = (urlsplit(referer).hostname or "").lower()
    except ValueError:
        host = ""
    if host.startswith("www."):
        host = host[4:]
    return (host or "(direct)"), referer
