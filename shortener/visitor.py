"""Untrusted visitor input, normalised once at the edge.

The request path only extracts what the answer and the dedup need (client IP, user agent,
referer, country, identity hash); the click writer later derives the rest (truncated IP,
referer host, parsed user agent) off the request path.
"""
from __future__ import annotations

import hashlib
import ipaddress
import socket
from bisect import bisect_right
from functools import lru_cache
from urllib.parse import urlsplit

MAX_UA = 512
MAX_REFERER = 1024
MAX_URL = 2048  # of the final URL kept in a click row (the redirect itself uses the full URL)


# -- IPv4 without ipaddress objects ---------------------------------------------------------------
# Every redirect behind a proxy parses its visitor's address, asks whether it is a trusted hop,
# and its click row wants the /24 and whether the address is global: through ipaddress objects
# that cost ~17 us per click, a tenth of the event loop's time under a redirect load, as every
# visitor has a new address. A canonical dotted quad (the only IPv4 form inet_pton accepts: no
# leading zeros, no short forms) takes these paths; anything else (IPv6, garbage) still goes
# through ipaddress.

def ipv4_int(ip: str) -> int | None:
    """The address as an int when `ip` is an IPv4 address in canonical dotted-quad form."""
    try:
        return int.from_bytes(socket.inet_pton(socket.AF_INET, ip), "big")
    except (OSError, ValueError):  # (ValueError: NUL or non-ASCII characters)
        return None


def _ipv4_global_table() -> tuple[list[int], list[bool]] | None:
    """(interval starts, is_global of each) over the whole IPv4 space, from ipaddress itself:
    is_global depends only on membership in the networks of ipaddress's IPv4 constants, so it is
    constant between their boundaries, and each interval is asked once. None when this Python's
    ipaddress keeps its constants elsewhere (every address then asks ipaddress)."""
    constants = getattr(ipaddress, "_IPv4Constants", None)
    if constants is None:
        return None
    bounds = {0}
    for value in vars(constants).values():
        for item in value if isinstance(value, (list, tuple, frozenset, set)) else (value,):
            if isinstance(item, ipaddress.IPv4Address):
                item = ipaddress.IPv4Network(item)
            if isinstance(item, ipaddress.IPv4Network):
                bounds.add(int(item.network_address))
                bounds.add(int(item.broadcast_address) + 1)
    starts = sorted(b for b in bounds if b < 2 ** 32)
    if len(starts) < 5:  # not the constants we know
        return None
    return starts, [ipaddress.IPv4Address(b).is_global for b in starts]


_GLOBAL_V4 = _ipv4_global_table()


def is_global_ip(ip: str) -> bool:
    """ipaddress's is_global (False for anything that is not an address)."""
    n = ipv4_int(ip)
    if n is not None and _GLOBAL_V4 is not None:
        starts, is_global = _GLOBAL_V4
        return is_global[bisect_right(starts, n) - 1]
    try:
        return ipaddress.ip_address(ip).is_global
    except ValueError:
        return False


def _ipv4_ranges(trusted: tuple) -> tuple[tuple[int, int], ...]:
    return tuple((int(net.network_address), int(net.broadcast_address)) for net in trusted
                 if isinstance(net, ipaddress.IPv4Network))


# The settings' tuple of trusted networks and its IPv4 ranges, found by identity: the tuple is
# the same object on every request (hashing it each time would cost more than the lookup).
_trusted_v4: tuple[tuple, tuple[tuple[int, int], ...]] = ((), ())


def _peer_is_trusted(peer: str, trusted: tuple) -> bool:
    global _trusted_v4
    n = ipv4_int(peer)
    if n is not None:
        known, ranges = _trusted_v4
        if known is not trusted:
            ranges = _ipv4_ranges(trusted)
            _trusted_v4 = (trusted, ranges)
        return any(lo <= n <= hi for lo, hi in ranges)
    return _peer_is_trusted_slow(peer, trusted)


@lru_cache(maxsize=4096)
def _peer_is_trusted_slow(peer: str, trusted: tuple) -> bool:
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
    if ipv4_int(value) is not None:
        return value  # already canonical
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
    if ipv4_int(ip) is not None:
        return ip[:ip.rindex(".")] + ".0"
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
