"""Click geo: region and city from a MaxMind-format database the test writes itself, countries from
the shipped table without one, continents from the country, and clear start-up errors."""
from __future__ import annotations

import ipaddress
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from shortener.config import Settings
from shortener.geo import CONTINENT_OF, GeoDatabaseError, GeoLocator
from shortener.web.app import create_app

from conftest import free_port

ROOT = Path(__file__).resolve().parent.parent
PERSON = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
BOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def write_mmdb(path: Path) -> Path:
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    writer = MMDBWriter(ip_version=6, database_type="GeoLite2-City", ipv4_compatible=True)
    writer.insert_network(IPSet(["81.2.69.0/24"]), {
        "country": {"iso_code": "GB", "names": {"en": "United Kingdom"}},
        "subdivisions": [{"iso_code": "ENG", "names": {"en": "England"}}],
        "city": {"names": {"en": "London"}},
    })
    writer.insert_network(IPSet(["89.160.20.0/24"]), {
        "country": {"iso_code": "SE", "names": {"en": "Sweden"}},
        "subdivisions": [{"iso_code": "E", "names": {"en": "Östergötland"}}],
        "city": {"names": {"en": "Linköping"}},
    })
    writer.insert_network(IPSet(["2a02:cf40::/32"]), {"country": {"iso_code": "NO"}})
    writer.to_db_file(str(path))
    return path


def _app(tmp_path, **settings) -> TestClient:
    s = Settings(data_dir=str(tmp_path / "data"), domain="go.test", sqlite_synchronous="normal", click_flush_ms=20,
                 trusted_proxies=(ipaddress.ip_network("127.0.0.0/8"),), **settings)
    return TestClient(create_app(s), base_url="http://go.test", follow_redirects=False, client=("127.0.0.1", 5000))


def _visit(client, core, run, key: str, visitors: list[tuple[str, str, str | None]]) -> None:
    for ip, ua, country in visitors:
        headers = {"x-forwarded-for": ip, "user-agent": ua}
        if country:
            headers["cf-ipcountry"] = country
        assert client.get(f"/{key}", headers=headers).status_code == 302
    run(core.clicks.flush)


def _setup(client):
    core = client.app_state["core"]

    def run(fn, *args, **kwargs):
        return client.portal.call(lambda: fn(*args, **kwargs))

    _, key = run(core.api_keys.create, "tests")
    client.headers["Authorization"] = f"Bearer {key}"
    assert client.post("/api/links", json={"url": "https://example.org/x", "key": "geo"}).status_code == 200
    return core, run


def test_region_and_city_from_the_database(tmp_path):
    db = write_mmdb(tmp_path / "city.mmdb")
    with _app(tmp_path, geoip_db=str(db)) as client:
        core, run = _setup(client)
        _visit(client, core, run, "geo", [
            ("81.2.69.142", PERSON, None), ("81.2.69.143", PERSON + " a", None),
            ("89.160.20.112", PERSON, None),
            ("89.160.20.113", PERSON, "FI"),  # the CDN says Finland: no Swedish city for it
            ("2a02:cf40::1", PERSON, None), ("10.1.2.3", PERSON, None),
            ("81.2.69.144", BOT, None),  # a crawler: redirected, never counted
        ])
        events = client.get("/api/events", params={"interval": "24h"}).json()
        got = sorted((e["click"]["country"], e["click"]["continent"], e["click"]["region"], e["click"]["city"])
                     for e in events)
        assert got == sorted([("GB", "EU", "GB-ENG", "London"), ("GB", "EU", "GB-ENG", "London"),
                              ("SE", "EU", "SE-E", "Linköping"), ("FI", "EU", "Unknown", "Unknown"),
                              ("NO", "EU", "Unknown", "Unknown"), ("Unknown", "Unknown", "Unknown", "Unknown")])
        cities = client.get("/api/analytics", params={"groupBy": "cities"}).json()
        assert [(c["country"], c["region"], c["city"], c["clicks"]) for c in cities] == [
            ("GB", "GB-ENG", "London", 2), ("SE", "SE-E", "Linköping", 1)]
        regions = client.get("/api/analytics", params={"groupBy": "regions", "region": "-GB-ENG"}).json()
        assert [(r["region"], r["clicks"]) for r in regions] == [("SE-E", 1)]
        assert client.get("/api/analytics", params={"continent": "EU"}).json()["clicks"] == 5
        assert client.get("/api/analytics", params={"city": "london"}).json()["clicks"] == 2
        assert client.get("/api/analytics").json()["clicks"] == 6  # the crawler is not there


def test_countries_from_the_shipped_table_without_a_database(tmp_path):
    with _app(tmp_path) as client:
        core, run = _setup(client)
        _visit(client, core, run, "geo", [("8.8.8.8", PERSON, None), ("1.0.16.1", PERSON, None),
                                          ("81.2.69.142", PERSON, "DE"), ("192.168.1.9", PERSON, None)])
        countries = client.get("/api/analytics", params={"groupBy": "countries"}).json()
        assert sorted((c["country"], c["clicks"]) for c in countries) == [
            ("DE", 1), ("JP", 1), ("US", 1), ("Unknown", 1)]
        continents = client.get("/api/analytics", params={"groupBy": "continents"}).json()
        assert sorted((c["continent"], c["clicks"]) for c in continents) == [("AS", 1), ("EU", 1), ("NA", 1)]
        assert client.get("/api/analytics", params={"groupBy": "cities"}).json() == []


def test_locator_caches_per_ip(tmp_path):
    geo = GeoLocator(str(write_mmdb(tmp_path / "c.mmdb")))
    assert geo.locate("81.2.69.1", None) == ("GB", "EU", "ENG", "London")
    assert geo.locate("81.2.69.1", None) == ("GB", "EU", "ENG", "London")
    assert geo.locate.cache_info().hits == 1
    assert geo.locate("not an ip", "US") == ("US", "NA", None, None)
    geo.close()


def test_missing_or_corrupt_database_stops_start_up(tmp_path):
    with pytest.raises(GeoDatabaseError, match="no such file"):
        GeoLocator(str(tmp_path / "missing.mmdb"))
    bad = tmp_path / "bad.mmdb"
    bad.write_bytes(b"this is not a maxmind database" * 100)
    with pytest.raises(GeoDatabaseError, match="not a MaxMind database"):
        GeoLocator(str(bad))
    # `shortener serve` exits with the message instead of serving failed redirects
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "SHORTENER_GEOIP_DB": str(bad),
           "SHORTENER_PORT": str(free_port())}
    proc = subprocess.run([sys.executable, "-m", "shortener", "--data-dir", str(tmp_path / "d"), "serve"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "not a MaxMind database" in proc.stdout + proc.stderr


def test_migration_continents_match_the_table(tmp_path):
    sql = (ROOT / "shortener/store/sqlite/migrations/009_click_geo.sql").read_text()
    from_sql = {}
    for codes, continent in re.findall(r"WHEN country IN \(([^)]*)\)\s*THEN '(\w\w)'", sql):
        for code in re.findall(r"'(\w\w)'", codes):
            from_sql[code] = continent
    assert from_sql == CONTINENT_OF and len(CONTINENT_OF) == 250
    # clicks stored before the migration get their continent
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE clicks (id TEXT, country TEXT)")
    conn.executemany("INSERT INTO clicks VALUES (?, ?)", [("a", "BR"), ("b", None), ("c", "NZ")])
    conn.executescript(sql)
    assert conn.execute("SELECT id, continent FROM clicks ORDER BY id").fetchall() == [
        ("a", "SA"), ("b", None), ("c", "OC")]


def test_the_ipv4_fast_paths_agree_with_ipaddress():
    """is_global_ip, truncate_ip and the trusted-proxy check answer a canonical IPv4 address
    without ipaddress objects; they must give ipaddress's answers, at every boundary of its
    special-purpose networks and at random addresses, and fall back to it for other forms."""
    import ipaddress
    import random

    from shortener import visitor

    assert visitor._GLOBAL_V4 is not None  # this Python's ipaddress has the constants we read
    starts = visitor._GLOBAL_V4[0]
    rnd = random.Random(7)
    numbers = {n + d for n in starts for d in (-1, 0, 1) if 0 <= n + d < 2 ** 32}
    numbers |= {rnd.randrange(2 ** 32) for _ in range(100_000)}
    trusted = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("192.0.2.128/25"),
               ipaddress.ip_network("2001:db8::/32"))
    for n in numbers:
        ip = str(ipaddress.IPv4Address(n))
        addr = ipaddress.ip_address(ip)
        assert visitor.is_global_ip(ip) is addr.is_global, ip
        assert visitor.truncate_ip(ip) == str(ipaddress.ip_network(f"{ip}/24", strict=False).network_address)
        assert visitor._peer_is_trusted(ip, trusted) is any(addr in net for net in trusted), ip
    # Other forms take ipaddress's path, as before.
    for ip in ["2606:4700::1", "::1", "::ffff:8.8.8.8", "fe80::1", "01.2.3.4", "1.2.3", "", "8.8.8.8 ", "8.8.8.8\x00"]:
        try:
            expected = ipaddress.ip_address(ip).is_global
        except ValueError:
            expected = False
        assert visitor.is_global_ip(ip) is expected, ip
    assert visitor.truncate_ip("2001:db8:1234:5678::1") == "2001:db8:1234::"
    assert visitor.truncate_ip("::ffff:8.8.4.4") == "8.8.4.0"
    assert visitor.truncate_ip("01.2.3.4") is None and visitor.truncate_ip("garbage") is None
    assert visitor._peer_is_trusted("2001:db8::5", trusted) and not visitor._peer_is_trusted("2001:db9::5", trusted)
    assert visitor._address("8.8.8.8:443") == "8.8.8.8" and visitor._address("[2001:DB8::1]:443") == "2001:db8::1"
    assert visitor._address("08.8.8.8") is None
