"""Short-link keys: validation and normalisation as Dub does it, and random keys.

Rules (reference/dub-behaviour.md 1.2, 3.3; decisions.md "Keys"):
- allowed characters are Dub's validKeyRegex: ASCII letters, digits, `_ - . /`, any character from
  U+0080 to U+FFFF, and emoji;
- leading and trailing `/` are stripped (multi-segment keys such as `gh/repo` stay);
- a key starting with `_` is refused, except the root link `_root`: `/_/` is where our own pages live;
- `.php`/`.php7` endings and `.well-known` prefixes are refused (scanner paths);
- reserved paths (ours and Dub's) answer 403;
- the stored form is punycode per dot-separated label, like punycode.toASCII (no nameprep, no
  lowercasing); lookups and uniqueness are case-insensitive in the store.
"""
from __future__ import annotations

import math
import re

from shortener.errors import Forbidden, Unprocessable
from shortener.ids import nanoid

MAX_KEY = 190
ROOT = "_root"
DEFAULT_LENGTH = 7
MIN_LENGTH, MAX_LENGTH = 3, 190

# C1 controls (U+0080-U+009F) and lone surrogates are inside Dub's U+0080-U+FFFF range, but they can
# not be typed in an address bar and surrogates do not even encode; leave them out.
_VALID = re.compile(
    "^[0-9A-Za-z_./\\-"
    "\u00a0-\ud7ff\ue000-\uffff"
    "\U0001f000-\U0001faff"  # emoji and pictographs outside the BMP
    "]+$"
)
# Invisible and direction-changing characters make a key look like another one (U+202E turns
# "gnp.exe" around); Dub's range allows them, we do not.
_INVISIBLE = re.compile("[\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ufff9-\ufffb]")

# Paths the dispatcher never hands to the redirector, plus Dub's globally reserved keys.
RESERVED = frozenset({
    "api", "robots.txt", "favicon.ico", "sitemap.xml", "manifest.webmanifest", "manifest.json",
    "apple-app-site-association",
})

# punycode.toASCII splits labels on these as well as on "."
_SEPARATORS = re.compile("[.\u3002\uff0e\uff61]")


def _invalid(message: str = "Invalid key.") -> Unprocessable:
    return Unprocessable(message, field="key", issue="invalid_string")


def is_reserved(key: str) -> bool:
    lowered = key.lower()
    return lowered in RESERVED or lowered.startswith("api/")


def is_unsupported(key: str) -> bool:
    lowered = key.lower()
    # A `.` or `..` segment is resolved away by browsers and HTTP clients before the request is
    # sent (RFC 3986, 5.2.4), so no visitor could reach such a key.
    return (lowered.endswith((".php", ".php7")) or lowered.startswith(".well-known")
            or any(segment in (".", "..") for segment in key.split("/")))


def punycode(key: str) -> str:
    """Encode each dot-separated label holding non-ASCII as `xn--` + RFC 3492 punycode."""
    if key.isascii():
        return key
    labels = _SEPARATORS.split(key)
    return ".".join(
        label if label.isascii() else "xn--" + label.encode("punycode").decode("ascii")
        for label in labels
    )


def normalise_key(raw: object) -> str:
    """Validate a user-chosen key and return its stored form; raises 422 or 403."""
    if not isinstance(raw, str):
        raise Unprocessable(f"Expected string, received {type(raw).__name__}.", field="key", issue="invalid_type")
    if len(raw) > MAX_KEY:
        raise Unprocessable(f"Too big: expected string to have <={MAX_KEY} characters", field="key", issue="too_big")
    if not _VALID.match(raw) or _INVISIBLE.search(raw):
        raise _invalid()
    key = raw.strip("/")
    if not key:
        raise _invalid()
    if key.startswith("_") and key != ROOT:
        raise _invalid("Invalid key: keys starting with `_` are reserved.")
    if is_unsupported(key):
        raise _invalid("Invalid key: this path is not supported as a short link.")
    if is_reserved(key):
        raise Forbidden(f"{key} is a reserved path and cannot be used as a short link.")
    key = punycode(key)
    if len(key) > MAX_KEY:
        raise Unprocessable(f"Too big: the encoded key has more than {MAX_KEY} characters", field="key", issue="too_big")
    return key


def normalise_prefix(raw: object) -> str:
    """A prefix for random keys: one leading/trailing `/` removed, then held to the key rules."""
    if not isinstance(raw, str):
        raise Unprocessable(f"Expected string, received {type(raw).__name__}.", field="prefix", issue="invalid_type")
    prefix = raw.strip().strip("/")
    if not prefix:
        return ""
    if len(prefix) > MAX_KEY - MIN_LENGTH - 1 or not _VALID.match(prefix) or _INVISIBLE.search(prefix):
        raise Unprocessable("Invalid prefix.", field="prefix", issue="invalid_string")
    if prefix.startswith("_"):
        raise Unprocessable("Invalid prefix: keys starting with `_` are reserved.", field="prefix", issue="invalid_string")
    if prefix.lower() == "api" or is_reserved(prefix) or prefix.lower().startswith(".well-known"):
        raise Forbidden(f"{prefix} is a reserved path and cannot be used as a short link.")
    if is_unsupported(prefix):
        raise Unprocessable("Invalid prefix: this path is not supported as a short link.", field="prefix",
                            issue="invalid_string")
    if len(punycode(f"{prefix}/{'0' * MIN_LENGTH}")) > MAX_KEY:
        raise Unprocessable("Invalid prefix.", field="prefix", issue="invalid_string")
    # As typed: random_key encodes the whole key, as the redirect encodes the whole path it looks
    # up (an encoded prefix and then `/random` made a key no visitor's path could reach).
    return prefix


def key_length(raw: object) -> int:
    if raw is None:
        return DEFAULT_LENGTH
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or isinstance(raw, float) and (
        not math.isfinite(raw) or not raw.is_integer()
    ):
        raise Unprocessable(f"Expected integer, received {type(raw).__name__}.", field="keyLength", issue="invalid_type")
    n = int(raw)
    if n < MIN_LENGTH:
        raise Unprocessable(f"Too small: expected number to be >={MIN_LENGTH}", field="keyLength", issue="too_small")
    if n > MAX_LENGTH:
        raise Unprocessable(f"Too big: expected number to be <={MAX_LENGTH}", field="keyLength", issue="too_big")
    return n


def random_key(length: int = DEFAULT_LENGTH, prefix: str = "") -> str:
    """nanoid over [0-9A-Za-z]; with a prefix, `prefix/random` (the prefix counts toward 190)."""
    if prefix:
        length = min(length, MAX_KEY - len(prefix) - 1)
        while True:
            # The random part is ASCII, one character each in the encoded key too.
            key = punycode(f"{prefix}/{nanoid(length)}")
            if len(key) <= MAX_KEY or length <= MIN_LENGTH:
                return key
            length = max(MIN_LENGTH, length - (len(key) - MAX_KEY))
    return nanoid(length)
