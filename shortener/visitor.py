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
    """Addresses from an RFC 7239 `Forwarded` header, in order."""
    found = []
    for element in value.split(","):
        for pair in element.split(";"):
            name, _, val = pair.strip().partition("=")
            if name.lower() == "for" and val:
                val = val.strip('"')
                if val.startswith("["):  # [v6]:port
                    val = val[1:].partition("]")[0]
                elif val.count(":") == 1:  # v4:port
                    val = val.partition(":")[0]
                found.append(val)
    return found


def client_ip(scope, headers: dict[bytes, bytes], trusted: tuple) -> str:
    """The visitor's address: the TCP peer, unless the peer is a trusted proxy.

    Behind trusted proxies the forwarded chain is read from the right, skipping trusted hops, so
    a client cannot inject an address by sending its own `X-Forwarded-For`.
    """
    client = scope.get("client")
    peer = client[0] if client else ""
    if not trusted or not _peer_is_trusted(peer, trusted):
        return peer
    raw = headers.get(b"x-forwarded-for")
    if raw is not None:
        chain = [p.strip() for p in raw.decode("latin-1").split(",") if p.strip()]
    else:
        fwd = headers.get(b"forwarded")
        chain = _forwarded_for(fwd.decode("latin-1")) if fwd is not None else []
    for hop in reversed(chain):
        if not _peer_is_trusted(hop, trusted):
            return _valid_ip(hop) or peer
    return chain[0] if chain and _valid_ip(chain[0]) else peer


def _valid_ip(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


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
