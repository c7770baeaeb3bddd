"""Prometheus metrics at /_/metrics (off by default, Bearer-token protected) and the access log
(text or JSON lines, without secrets or full IPs)."""
from __future__ import annotations

import ipaddress
import json
import time

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from conversion_support import DESKTOP, lead, new_link, sale, visit
from shortener.web.app import create_app
from shortener.web.observe import redact_query
from test_webhooks import Receiver

TOKEN = "metrics-token-0123456789"


def scrape(client) -> dict[str, dict[tuple, float]]:
    """{sample name: {sorted label items: value}} from one authorised scrape."""
    r = client.get("/_/metrics", headers={"authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    out: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def value(samples, name: str, **labels) -> float:
    return samples.get(name, {}).get(tuple(sorted(labels.items())), 0.0)


def test_metrics_are_off_by_default(client):
    assert client.get("/_/metrics").status_code == 404
    assert client.get("/_/metrics", headers={"authorization": f"Bearer {TOKEN}"}).status_code == 404


def test_metrics_need_the_token(settings):
    with TestClient(create_app(settings.replace(metrics_token=TOKEN)), base_url="http://go.test") as c:
        assert c.get("/_/metrics").status_code == 401
        assert c.get("/_/metrics", headers={"authorization": "Bearer wrong"}).status_code == 401
        assert c.get("/_/metrics", headers={"authorization": TOKEN}).status_code == 401
        assert c.get("/_/metrics", headers={"authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_counters_move_with_clicks_leads_sales_and_webhooks(settings):
    receiver = Receiver().start()
    app = create_app(settings.replace(metrics_token=TOKEN, webhook_allow_private=True))
    try:
        with TestClient(app, base_url="http://go.test", follow_redirects=False) as c:
            core = c.app_state["core"]
            _, key = c.portal.call(core.api_keys.create, "t")
            c.headers["Authorization"] = f"Bearer {key}"
            before = scrape(c)
            assert value(before, "shortener_clicks_written_total") == 0

            r = c.post("/api/webhooks", json={"name": "m", "url": receiver.url, "triggers": ["lead.created"]})
            assert r.status_code in (200, 201), r.text
            new_link(c, "metered")
            clicks = [visit(c, "metered") for _ in range(3)]
            assert c.get("/nothing-here", headers={"user-agent": DESKTOP}).status_code == 404
            c.portal.call(core.clicks.flush)
            assert lead(c, clicks[0], "cust-1").status_code == 200
            assert lead(c, clicks[1], "cust-2", eventQuantity=2).status_code == 200
            assert sale(c, "cust-1", 1500).status_code == 200
            receiver.wait_for(2)
            deadline = time.monotonic() + 10
            while sum(core.webhooks.outcomes.values()) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)

            after = scrape(c)
    finally:
        receiver.stop()

    assert value(after, "shortener_requests_total", kind="redirect", status="302") == 3
    assert value(after, "shortener_requests_total", kind="redirect", status="404") == 1
    assert value(after, "shortener_requests_total", kind="api", status="200") >= 4
    assert value(after, "shortener_requests_total", kind="page", status="200") == 1  # the first scrape
    # every redirect lands in the histogram, and only redirects
    assert value(after, "shortener_redirect_duration_seconds_count") == 4
    assert value(after, "shortener_redirect_duration_seconds_bucket", le="+Inf") == 4
    assert 0 < value(after, "shortener_redirect_duration_seconds_sum") < 4
    assert value(after, "shortener_clicks_written_total") == 3
    assert value(after, "shortener_clicks_queued") == 0
    assert value(after, "shortener_clicks_dropped_total", reason="queue_full") == 0
    assert value(after, "shortener_leads_total") == 3
    assert value(after, "shortener_sales_total") == 1
    assert value(after, "shortener_webhook_deliveries_total", outcome="delivered") == 2
    # every lookup of the link is a cache hit or a database load
    assert value(after, "shortener_link_cache_hits_total") + value(after, "shortener_link_cache_loads_total") >= 3
    assert "shortener_link_cache_links" in after
    # API writes (the webhook, the link, three leads' customers and events, the sale) waited
    # for the write lock and are counted, each in one bucket
    waits = value(after, "shortener_store_write_wait_seconds_count")
    assert waits >= 4 and value(after, "shortener_store_write_wait_seconds_bucket", le="+Inf") == waits
    assert value(before, "shortener_store_write_wait_seconds_count") == 0
    assert 0 <= value(after, "shortener_store_write_wait_seconds_sum") < waits


def test_each_app_has_its_own_registry(settings, tmp_path):
    s1 = settings.replace(metrics_token=TOKEN)
    s2 = settings.replace(metrics_token=TOKEN, data_dir=str(tmp_path / "other"))
    with TestClient(create_app(s1), base_url="http://go.test") as a, \
            TestClient(create_app(s2), base_url="http://go.test") as b:
        a.get("/x-missing")
        a.get("/x-missing")
        b.get("/x-missing")
        assert value(scrape(a), "shortener_requests_total", kind="redirect", status="404") == 2
        assert value(scrape(b), "shortener_requests_total", kind="redirect", status="404") == 1


@pytest.fixture
def access_lines(capsys):
    """The access-log lines written to stderr (read after the app has stopped)."""

    class Lines:
        def read(self) -> list[str]:
            return [line for line in capsys.readouterr().err.splitlines() if line.strip()]

    capsys.readouterr()
    return Lines()


def test_json_access_log_has_one_line_per_request_and_no_secrets(settings, access_lines):
    app = create_app(settings.replace(access_log="json", trusted_proxies=(ipaddress.ip_network("127.0.0.0/8"),)))
    with TestClient(app, base_url="http://go.test", follow_redirects=False, client=("127.0.0.1", 5555)) as c:
        core = c.app_state["core"]
        _, key = c.portal.call(core.api_keys.create, "t")
        c.headers["Authorization"] = f"Bearer {key}"
        new_link(c, "logged", password="hunter2-secret")
        access_lines.read()
        r = c.get("/logged?pw=hunter2-secret&utm_source=x&P%57=hunter2-secret",
                  headers={"x-forwarded-for": "203.0.113.77", "user-agent": DESKTOP,
                           "referer": "https://ref.example/page?token=hunter2-secret"})
        assert r.status_code == 302
        r = c.get("/api/links", headers={"x-forwarded-for": "2001:db8:1234:5678::1"})
        assert r.status_code == 200
        lines = access_lines.read()

    assert len(lines) == 2
    for line in lines:
        assert "hunter2-secret" not in line
        assert key not in line
        assert "Bearer" not in line
    first, second = (json.loads(line) for line in lines)
    assert first["kind"] == "redirect" and first["status"] == 302 and first["method"] == "GET"
    assert first["path"] == "/logged"
    assert first["ip"] == "203.0.113.0"  # /24, never the full address
    assert "203.0.113.77" not in lines[0]
    assert first["query"] == "pw=REDACTED&utm_source=x&P%57=REDACTED"
    assert first["referer"] == "https://ref.example/page"
    assert first["ua"] == DESKTOP
    assert first["ms"] >= 0 and first["host"] == "go.test"
    assert second["kind"] == "api" and second["status"] == 200 and second["ip"] == "2001:db8:1234::"


def test_text_access_log(settings, access_lines):
    with TestClient(create_app(settings.replace(access_log="text")), base_url="http://go.test",
                    client=("198.51.100.9", 4000)) as c:
        c.get("/missing%0Akey?pw=secret-value")
        (line,) = access_lines.read()
    assert line.startswith('198.51.100.0 "GET /missing%0Akey?pw=REDACTED" 404 ')
    assert "\n" not in line and "secret-value" not in line and "198.51.100.9" not in line


def test_redact_query_keeps_other_parameters():
    assert redact_query(b"") == ""
    assert redact_query(b"a=1&b=2") == "a=1&b=2"
    assert redact_query(b"pw=x&a=1&api_key=y") == "pw=REDACTED&a=1&api_key=REDACTED"
