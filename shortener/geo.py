"""Where a click came from: country, continent, region and city.

Used by the click writer, off the request path, once per click:
- the country is the CDN header's when the redirect had one; otherwise it comes from the
  MaxMind-format database named by SHORTENER_GEOIP_DB, or, with no database, from the IP-to-country
  table that ships inside the `iptocc` package (registry allocation data, refreshed with each
  release, no file or network access at run time), so a bare install still gets countries;
- the continent is derived from the country with the table below, never looked up;
- region (ISO 3166-2 subdivision, stored without the country prefix, as MaxMind gives it) and
  city come from the database only.

The database is opened once, memory-mapped, at start-up: a missing or unreadable file stops the
server with a clear message instead of failing redirects later. Lookups are cached per IP.
"""
from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path
from typing import Callable

from shortener.visitor import is_global_ip

log = logging.getLogger("shortener.geo")

# Continent of every ISO 3166-1 alpha-2 code (plus XK, Kosovo, which MaxMind and Dub use), with
# the seven codes MaxMind and Dub's CONTINENT_CODES use.
_BY_CONTINENT = {
    "AF": "AO BF BI BJ BW CD CF CG CI CM CV DJ DZ EG EH ER ET GA GH GM GN GQ GW KE KM LR LS LY MA MG ML MR "
          "MU MW MZ NA NE NG RE RW SC SD SH SL SN SO SS ST SZ TD TG TN TZ UG YT ZA ZM ZW",
    "AN": "AQ BV GS HM TF",
    "AS": "AE AF AM AZ BD BH BN BT CC CN CX GE HK ID IL IN IO IQ IR JO JP KG KH KP KR KW KZ LA LB LK MM MN "
          "MO MV MY NP OM PH PK PS QA SA SG SY TH TJ TL TM TR TW UZ VN YE",
    "EU": "AD AL AT AX BA BE BG BY CH CY CZ DE DK EE ES FI FO FR GB GG GI GR HR HU IE IM IS IT JE LI LT LU "
          "LV MC MD ME MK MT NL NO PL PT RO RS RU SE SI SJ SK SM UA VA XK",
    "NA": "AG AI AW BB BL BM BQ BS BZ CA CR CU CW DM DO GD GL GP GT HN HT JM KN KY LC MF MQ MS MX NI PA PM "
          "PR SV SX TC TT US VC VG VI",
    "OC": "AS AU CK FJ FM GU KI MH MP NC NF NR NU NZ PF PG PN PW SB TK TO TV UM VU WF WS",
    "SA": "AR BO BR CL CO EC FK GF GY PE PY SR UY VE",
}
CONTINENT_OF: dict[str, str] = {c: cont for cont, codes in _BY_CONTINENT.items() for c in codes.split()}
CONTINENTS = tuple(_BY_CONTINENT)

# Per-IP results kept by the writer; a visitor's repeat clicks are the common case.
CACHE_SIZE = 65536

Location = tuple[str | None, str | None, str | None, str | None]  # country, continent, region, city


class GeoDatabaseError(RuntimeError):
    """The configured database cannot be used; raised at start-up, so the server does not start."""


def continent_of(country: str | None) -> str | None:
    return CONTINENT_OF.get(country) if country else None




def _open_database(path: str):
    import maxminddb

    p = Path(path)
    if not p.is_file():
        raise GeoDatabaseError(f"SHORTENER_GEOIP_DB: no such file: {path}")
    try:
        reader = maxminddb.open_database(str(p), maxminddb.MODE_MMAP)
    except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
        raise GeoDatabaseError(f"SHORTENER_GEOIP_DB: {path} is not a MaxMind database: {exc}") from None
    return reader


def _from_record(record) -> tuple[str | None, str | None, str | None]:
    """(country, region, city) from a GeoIP2/GeoLite2 City or Country record."""
    if not isinstance(record, dict):
        return None, None, None
    country = None
    for name in ("country", "registered_country"):
        part = record.get(name)
        if isinstance(part, dict) and isinstance(part.get("iso_code"), str):
            country = part["iso_code"].upper()
            break
    region = None
    subdivisions = record.get("subdivisions")
    if isinstance(subdivisions, list) and subdivisions and isinstance(subdivisions[0], dict):
        code = subdivisions[0].get("iso_code")
        region = code.upper() if isinstance(code, str) and code else None
    city = None
    names = (record.get("city") or {}).get("names") if isinstance(record.get("city"), dict) else None
    if isinstance(names, dict):
        city = names.get("en") or next((v for v in names.values() if isinstance(v, str)), None)
    return country, region, city


class GeoLocator:
    """`locate(ip, country)` -> (country, continent, region, city); None where unknown."""

    def __init__(self, database_path: str = "") -> None:
        self.database_path = database_path
        self._reader = _open_database(database_path) if database_path else None
        self.locate: Callable[[str, str | None], Location] = lru_cache(maxsize=CACHE_SIZE)(self._locate)

    def _locate(self, ip: str, country: str | None) -> Location:
        region = city = None
        if self._reader is not None and ip and is_global_ip(ip):
            try:
                found_country, region, city = _from_record(self._reader.get(ip))
            except ValueError:  # not an address
                found_country = None
            if country is None:
                country = found_country
            elif found_country is not None and found_country != country:
                # The CDN placed the visitor elsewhere; a region of another country would lie.
                region = city = None
        elif country is None and ip and is_global_ip(ip):
            country = _country_from_package(ip)
        return country, continent_of(country), region, city

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None


def _country_from_package(ip: str) -> str | None:
    try:
        from iptocc import country_code
    except ImportError:  # pragma: no cover - a dependency; only a broken install lacks it
        return None
    code = country_code(ip)
    return code.upper() if isinstance(code, str) and len(code) == 2 else None


def region_code(country: str | None, region: str | None) -> str | None:
    """ISO 3166-2 code ("US-CA") from a stored country and region ("CA")."""
    return f"{country}-{region}" if country and region else None


def geo_fields(row: dict) -> dict:
    """The geo fields of Dub's click object from a clicks row; "Unknown" where unknown."""
    country = row.get("country")
    return {
        "country": country or "Unknown",
        "city": row.get("city") or "Unknown",
        "region": region_code(country, row.get("region")) or "Unknown",
        "continent": row.get("continent") or continent_of(country) or "Unknown",
    }
