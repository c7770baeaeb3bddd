"""What the README's Deployment section promises: pinned dependencies, the systemd unit, and
what a reverse proxy changes with and without trusted proxies."""
from __future__ import annotations

import configparser
import ipaddress
import re
import tomllib
from pathlib import Path

from redirect_support import DESKTOP, client_with, make_link

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_every_dependency_has_a_tested_range_with_an_upper_bound():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    requirements = [*project["project"]["dependencies"], *project["project"]["optional-dependencies"]["test"],
                    *project["build-system"]["requires"]]
    unbounded = [r for r in requirements if "<" not in r]
    assert unbounded == []


def test_constraints_pin_every_dependency_and_the_readme_installs_with_them():
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, sep, version = line.partition("==")
            assert sep and version, f"not pinned: {line}"
            pins[name.lower().replace("_", "-")] = version
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    wanted = {_name(r) for r in [*project["project"]["dependencies"], *project["project"]["optional-dependencies"]["test"]]}
    assert wanted - set(pins) == set()
    assert "shortener" not in pins
    assert "pip install -c constraints.txt ." in README
    assert "pip install -q -c constraints.txt -e '.[test]'" in (ROOT / ".ci" / "run").read_text()


def test_the_shipped_systemd_unit_is_hardened():
    from importlib import resources

    text = resources.files("shortener").joinpath("deploy/shortener.service").read_text()
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str  # systemd keys are case-sensitive
    unit.read_string(text)
    service = unit["Service"]
    assert service["ExecStart"].endswith("shortener serve")
    assert (service["User"], service["StateDirectory"], service["StateDirectoryMode"]) == ("shortener", "shortener", "0700")
    for key, value in {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
                       "PrivateTmp": "yes", "UMask": "0077", "CapabilityBoundingSet": ""}.items():
        assert service[key] == value, key
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def _visits_through_a_proxy(settings, trusted: bool) -> list[str]:
    """The click ids two people (same browser, different addresses) get through a proxy on 127.0.0.1."""
    nets = (ipaddress.ip_network("127.0.0.1/32"),) if trusted else ()
    with client_with(settings, peer=("127.0.0.1", 40000), trusted_proxies=nets) as c:
        core = c.app_state["core"]
        make_link(lambda fn, *a: c.portal.call(lambda: fn(*a)), core, key="p")
        ids = []
        for address in ("198.51.100.1", "203.0.113.9"):
            r = c.get("/p", headers={"user-agent": DESKTOP, "x-forwarded-for": address})
            assert r.status_code == 302
            ids.append(r.cookies["dub_id"])
        return ids


def test_without_trusted_proxies_visitors_behind_a_proxy_merge(settings):
    # The README's warning: one click id (and one click) for two people.
    a, b = _visits_through_a_proxy(settings, trusted=False)
    assert a == b


def test_with_the_proxy_trusted_each_visitor_is_their_own(settings):
    a, b = _visits_through_a_proxy(settings, trusted=True)
    assert a != b
