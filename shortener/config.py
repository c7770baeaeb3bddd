"""Every setting, declared once: name, environment variable, default, type and help.

Where a value comes from, lowest first: the default, `<data_dir>/shortener.toml` (optional,
written by `shortener init`), a `SHORTENER_*` environment variable, a command-line flag. The
server and the CLI read the same file, so they agree without exporting variables twice.

The README's settings table is checked against SETTINGS by tests/test_foundation.py, so a
setting cannot be added without being documented.
"""
from __future__ import annotations

import dataclasses
import ipaddress
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping


@dataclass(frozen=True)
class Setting:
    name: str
    env: str
    default: Any
    cast: Callable[[str], Any]
    help: str


def _bool(value: str) -> bool:
    v = value.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"not a boolean: {value!r}")


def _list(value: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in value.split(",") if p.strip())


def _networks(value: str) -> tuple:
    return tuple(ipaddress.ip_network(p, strict=False) for p in _list(value))


def _status(value: str) -> int:
    status = int(value)
    if status not in (301, 302, 307, 308):
        raise ValueError("redirect status must be 301, 302, 307 or 308")
    return status


FORWARDED_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip")

SETTINGS: tuple[Setting, ...] = (
    Setting("data_dir", "SHORTENER_DATA_DIR", "./data", str,
            "Folder for runtime files: the SQLite database, the secret key. The only place the server writes."),
    Setting("database_url", "SHORTENER_DATABASE_URL", "", str,
            "Database URL. Empty means `sqlite:///<data_dir>/shortener.db`."),
    Setting("host", "SHORTENER_HOST", "127.0.0.1", str, "Address `shortener serve` listens on."),
    Setting("port", "SHORTENER_PORT", 8000, int, "Port `shortener serve` listens on."),
    Setting("domain", "SHORTENER_DOMAIN", "", str,
            "Default short domain (host[:port] as visitors type it). Empty means the address `serve` listens on (`<host>:<port>`, `127.0.0.1` for a wildcard host). Created on start; new links use it unless they name another. The CLI uses the database's primary domain unless this is set."),
    Setting("extra_domains", "SHORTENER_EXTRA_DOMAINS", (), _list,
            "Comma-separated extra short domains created on start (more can be added with the domains API)."),
    Setting("api_host", "SHORTENER_API_HOST", "", str,
            "Optional dedicated API host (e.g. `api.example.com`): the API is served at its root as well as under `/api/` on every host."),
    Setting("scheme", "SHORTENER_SCHEME", "http", str,
            "Scheme of the public short links (`http` or `https`); `https` also marks cookies Secure."),
    Setting("secret_key_file", "SHORTENER_SECRET_KEY_FILE", "", str,
            "File holding the cookie-signing key. Empty means `<data_dir>/secret.key`, generated on first run with mode 0600 (atomically: processes starting together share one key). An existing file is never rewritten; one holding fewer than 32 bytes stops the server at start."),
    Setting("redirect_status", "SHORTENER_REDIRECT_STATUS", 302, _status,
            "Default redirect status (301, 302, 307, 308). Root links answer 301 unless the link sets its own."),
    Setting("trusted_proxies", "SHORTENER_TRUSTED_PROXIES", (), _networks,
            "Comma-separated CIDRs whose forwarded header (`SHORTENER_FORWARDED_HEADER`) is believed. Empty: forwarded headers are ignored."),
    Setting("forwarded_header", "SHORTENER_FORWARDED_HEADER", "x-forwarded-for", str,
            "The one header a trusted proxy sets with the client address: `x-forwarded-for`, `forwarded` (RFC 7239) or `x-real-ip`. The others are ignored, never used as a fallback; the right-most address not in `SHORTENER_TRUSTED_PROXIES` is the client."),
    Setting("click_dedup_seconds", "SHORTENER_CLICK_DEDUP_SECONDS", 3600, int,
            "Window in which the same visitor (IP + user agent) on the same link reuses its click id and is counted once. 0 counts every click."),
    Setting("click_retention_days", "SHORTENER_CLICK_RETENTION_DAYS", 0, int,
            "Raw click rows older than this many days are deleted (hourly, in small chunks); 0 keeps them for ever. Analytics totals stay exact (they read rollups, which are kept); clicks a customer, lead or sale refers to are kept; filters on click fields (country, device ...) over older ranges see only the kept rows."),
    Setting("country_header", "SHORTENER_COUNTRY_HEADER", "cf-ipcountry", str,
            "Request header carrying the visitor's ISO country code (set by a CDN or proxy), used for geo targeting and click records. Believed only from `SHORTENER_TRUSTED_PROXIES`, or from anyone with `SHORTENER_COUNTRY_HEADER_FROM_CDN`."),
    Setting("country_header_from_cdn", "SHORTENER_COUNTRY_HEADER_FROM_CDN", False, _bool,
            "Believe the country header on every request, whoever the peer is. Set it only when a CDN in front of the server sets that header on every request and overwrites any value a visitor sends; otherwise any visitor can pick its own country."),
    Setting("geoip_db", "SHORTENER_GEOIP_DB", "", str,
            "Path to a MaxMind-format database (GeoLite2/GeoIP2 City or Country `.mmdb`) giving clicks their region and city (and country when no CDN header has one). Opened memory-mapped at start; a missing or unreadable file stops the server. Empty: countries come from the IP-to-country table shipped with the `iptocc` package."),
    Setting("click_flush_ms", "SHORTENER_CLICK_FLUSH_MS", 100, int,
            "How often queued clicks are written, in milliseconds. A crash can lose at most this window of clicks."),
    Setting("click_batch_size", "SHORTENER_CLICK_BATCH_SIZE", 20000, int,
            "Clicks written per transaction at most; a full batch is written without waiting for the timer. Under load the writer takes everything queued up to this, and larger transactions cost less per click. A batch yields the write lock to any other write that queues behind it."),
    Setting("click_queue_max", "SHORTENER_CLICK_QUEUE_MAX", 100000, int,
            "Clicks held in memory at most; past it new clicks are dropped (and counted) so redirects never wait."),
    Setting("cache_sync_seconds", "SHORTENER_CACHE_SYNC_SECONDS", 1.0, float,
            "How often the link cache checks the database for changes made by other processes."),
    Setting("password_attempts", "SHORTENER_PASSWORD_ATTEMPTS", 10, int,
            "Failed password attempts allowed per link and client IP in 10 minutes before answering 429."),
    Setting("sqlite_synchronous", "SHORTENER_SQLITE_SYNCHRONOUS", "full", str,
            "SQLite `synchronous` pragma: `full` survives power loss, `normal` survives a process crash and is faster."),
    Setting("sqlite_readers", "SHORTENER_SQLITE_READERS", 3, int,
            "Reader connections (each on its own thread) for API reads, so one slow listing does not hold up the rest."),
    Setting("query_timeout", "SHORTENER_QUERY_TIMEOUT", 10.0, float,
            "Seconds an API read may run before it is stopped and answered with 503 (0: no limit)."),
    Setting("webhook_timeout", "SHORTENER_WEBHOOK_TIMEOUT", 10.0, float,
            "Seconds a webhook delivery may take."),
    Setting("webhook_max_failures", "SHORTENER_WEBHOOK_MAX_FAILURES", 20, int,
            "Consecutive failed deliveries after which a webhook is disabled."),
    Setting("webhook_allow_private", "SHORTENER_WEBHOOK_ALLOW_PRIVATE", False, _bool,
            "Allow webhook targets on private and loopback addresses (link-local and metadata addresses are always refused)."),
    Setting("qr_workers", "SHORTENER_QR_WORKERS", 1, int,
            "Worker processes drawing QR codes for `/api/qr` (started on the first request), so drawing never holds up redirects."),
    Setting("qr_max_pending", "SHORTENER_QR_MAX_PENDING", 8, int,
            "QR codes being drawn or waiting for a worker at once; past it `/api/qr` answers 429 with `Retry-After`."),
    Setting("track_allowed_hostnames", "SHORTENER_TRACK_ALLOWED_HOSTNAMES", (), _list,
            "Comma-separated hostnames whose pages may call `POST /api/track/click` from the browser (CORS): `example.com`, `*.example.com` (its subdomains), or `*` (any). Empty: client-side click tracking is refused."),
    Setting("log_level", "SHORTENER_LOG_LEVEL", "info", str, "Log level of the server."),
    Setting("access_log", "SHORTENER_ACCESS_LOG", "off", str,
            "Request log on stderr: `off`, `text` (one readable line per request) or `json` (one JSON object per line). Never holds credentials, `pw` values or full client IPs."),
    Setting("metrics_token", "SHORTENER_METRICS_TOKEN", "", str,
            "Bearer token for the Prometheus endpoint `/_/metrics`. Empty: the endpoint is off (404)."),
)

_BY_NAME = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class Settings:
    data_dir: str = "./data"
    database_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    domain: str = ""
    extra_domains: tuple[str, ...] = ()
    api_host: str = ""
    scheme: str = "http"
    secret_key_file: str = ""
    redirect_status: int = 302
    trusted_proxies: tuple = ()
    forwarded_header: str = "x-forwarded-for"
    click_dedup_seconds: int = 3600
    click_retention_days: int = 0
    country_header: str = "cf-ipcountry"
    country_header_from_cdn: bool = False
    geoip_db: str = ""
    click_flush_ms: int = 100
    click_batch_size: int = 20000
    click_queue_max: int = 100000
    cache_sync_seconds: float = 1.0
    password_attempts: int = 10
    sqlite_synchronous: str = "full"
    sqlite_readers: int = 3
    query_timeout: float = 10.0
    webhook_timeout: float = 10.0
    webhook_max_failures: int = 20
    webhook_allow_private: bool = False
    qr_workers: int = 1
    qr_max_pending: int = 8
    track_allowed_hostnames: tuple[str, ...] = ()
    log_level: str = "info"
    access_log: str = "off"
    metrics_token: str = ""

    def __post_init__(self) -> None:
        if not self.domain:
            object.__setattr__(self, "domain", served_address(self.host, self.port))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> "Settings":
        """Defaults, then `<data_dir>/shortener.toml`, then `SHORTENER_*` variables, then
        explicit overrides (CLI flags)."""
        return cls.load(environ, **overrides)[0]

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> tuple["Settings", frozenset[str]]:
        """`from_env`, plus the names of the settings that were given (file, variable or flag)
        rather than defaulted: the CLI takes the domain from the database unless it was given."""
        environ = os.environ if environ is None else environ
        data_dir = overrides.get("data_dir") or environ.get("SHORTENER_DATA_DIR") or _BY_NAME["data_dir"].default
        values: dict[str, Any] = read_config_file(config_path(data_dir))
        for s in SETTINGS:
            if s.env in environ:
                try:
                    values[s.name] = s.cast(environ[s.env])
                except ValueError as exc:
                    raise SystemExit(f"invalid {s.env}: {exc}") from None
        for name, value in overrides.items():
            if name not in _BY_NAME:
                raise TypeError(f"unknown setting {name!r}")
            if value is not None:
                values[name] = value
        given = frozenset(name for name, value in values.items() if name != "domain" or value)
        return cls(**values).normalised(), given

    def normalised(self) -> "Settings":
        changes: dict[str, Any] = {
            "domain": self.domain.strip().lower() or served_address(self.host, self.port),
            "extra_domains": tuple(d.strip().lower() for d in self.extra_domains),
            "api_host": self.api_host.strip().lower(),
            "country_header": self.country_header.strip().lower(),
            "forwarded_header": self.forwarded_header.strip().lower(),
            "scheme": self.scheme.strip().lower(),
            "sqlite_synchronous": self.sqlite_synchronous.strip().lower(),
            "access_log": self.access_log.strip().lower(),
            "metrics_token": self.metrics_token.strip(),
        }
        if changes["scheme"] not in ("http", "https"):
            raise SystemExit("SHORTENER_SCHEME must be http or https")
        if changes["forwarded_header"] not in FORWARDED_HEADERS:
            raise SystemExit("SHORTENER_FORWARDED_HEADER must be " + ", ".join(FORWARDED_HEADERS))
        if changes["sqlite_synchronous"] not in ("full", "normal", "extra"):
            raise SystemExit("SHORTENER_SQLITE_SYNCHRONOUS must be full, normal or extra")
        if changes["access_log"] not in ("off", "text", "json"):
            raise SystemExit("SHORTENER_ACCESS_LOG must be off, text or json")
        return dataclasses.replace(self, **changes)

    def replace(self, **changes: Any) -> "Settings":
        return dataclasses.replace(self, **changes).normalised()

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return "sqlite:///" + str(Path(self.data_dir) / "shortener.db")

    @property
    def resolved_secret_key_file(self) -> Path:
        return Path(self.secret_key_file) if self.secret_key_file else Path(self.data_dir) / "secret.key"

    @property
    def secure_cookies(self) -> bool:
        return self.scheme == "https"

    def short_url(self, domain: str, key: str) -> str:
        base = f"{self.scheme}://{domain}"
        return base if key == "_root" else f"{base}/{key}"


def served_address(host: str, port: int) -> str:
    """The `host:port` a visitor types to reach `serve --host/--port`: the default domain when
    none is configured, so the short links it prints are the ones the server answers."""
    host = (host or "").strip().lower()
    if host in ("", "0.0.0.0", "::", "[::]"):
        host = "127.0.0.1"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{port}"


CONFIG_FILE = "shortener.toml"


def config_path(data_dir: str | os.PathLike) -> Path:
    return Path(data_dir) / CONFIG_FILE


def read_config_file(path: Path) -> dict[str, Any]:
    """Settings from a TOML file of `name = value` lines (names as in SETTINGS, lower case); {}
    when the file does not exist. Unknown names and bad values stop the program with the file's
    name, so a typo is not silently ignored."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise SystemExit(f"cannot read {path}: {exc}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SystemExit(f"{path}: not valid TOML: {exc}") from None
    values: dict[str, Any] = {}
    for name, value in data.items():
        setting = _BY_NAME.get(name)
        if setting is None or name == "data_dir":
            hint = " (the file lives in the data folder; set that with --data-dir or SHORTENER_DATA_DIR)" \
                if name == "data_dir" else ""
            raise SystemExit(f"{path}: unknown setting {name!r}{hint}")
        if isinstance(value, list):
            text = ",".join(str(v) for v in value)
        elif isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, (str, int, float)):
            text = str(value)
        else:
            raise SystemExit(f"{path}: {name} must be a string, number, boolean or list")
        try:
            values[name] = setting.cast(text)
        except ValueError as exc:
            raise SystemExit(f"{path}: invalid {name}: {exc}") from None
    return values


def render_config_file(values: Mapping[str, Any]) -> str:
    """A shortener.toml: the given values set, every other setting listed commented out with its
    help, so the file documents itself."""
    lines = [
        "# shortener settings, read by `shortener serve` and every CLI command.",
        "# Environment variables (SHORTENER_*) override these; command-line flags override both.",
        "",
    ]
    for s in SETTINGS:
        if s.name == "data_dir":
            continue
        lines.append(f"# {s.help}")
        if s.name in values:
            lines.append(f"{s.name} = {_toml_value(values[s.name])}")
        else:
            lines.append(f"# {s.name} = {_toml_value(s.default)}")
        lines.append("")
    return "\n".join(lines)


def _toml_value(value: Any) -> str:
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(json.dumps(str(v)) for v in value) + "]"
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string


def ensure_private_dir(path: str | os.PathLike) -> Path:
    """Create a folder only its owner can enter (0700). An existing folder is left as it is."""
    path = Path(path)
    if not path.is_dir():
        path.mkdir(parents=True, mode=0o700, exist_ok=True)
        os.chmod(path, 0o700)  # mkdir's mode is masked by the umask; make it exact
    return path


MIN_SECRET_BYTES = 32


def load_secret_key(settings: Settings) -> bytes:
    """Read the signing key, creating it (mode 0600) on first run.

    An existing file is never rewritten: one that is empty or shorter than 32 bytes stops the
    start (an empty key would let anyone forge unlock cookies). We never leave such a file
    behind ourselves, because the key is written whole before its name appears.
    """
    path = settings.resolved_secret_key_file
    try:
        key = path.read_bytes().strip()
    except FileNotFoundError:
        key = _create_secret_key(path)
    if len(key) < MIN_SECRET_BYTES:
        raise SystemExit(
            f"Refusing to start: the secret key file {path} holds {len(key)} bytes; at least "
            f"{MIN_SECRET_BYTES} are needed, or anyone could forge signed cookies. Write a random key into it "
            f"(python -c 'import secrets; print(secrets.token_hex(32))' > {path}), or delete it to have one "
            "generated (this signs every visitor out of password-protected links)."
        )
    return key


def _create_secret_key(path: Path) -> bytes:
    """Write a new key to a private temporary file, then link it into place.

    os.link fails if the name exists, so of several processes starting for the first time
    exactly one key wins, and every process reads that one, whole.
    """
    import secrets
    import tempfile

    ensure_private_dir(path.parent)
    key = secrets.token_hex(32).encode()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".secret-", suffix=".tmp")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(key)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return path.read_bytes().strip()
    finally:
        os.unlink(tmp)
    return key
