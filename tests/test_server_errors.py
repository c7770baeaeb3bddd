"""An unexpected error in an API endpoint (issue 14, #7): one 500 in Dub's JSON shape, logged once,
and the keep-alive connection stays usable (Starlette's ServerErrorMiddleware re-raises after
answering, which made each nested app log it again and uvicorn close the connection)."""
from __future__ import annotations

import logging


def test_an_unexpected_error_is_one_dub_500_logged_once(api, core, monkeypatch, caplog):
    async def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(core.tags, "list", broken)
    with caplog.at_level(logging.ERROR):
        r = api.get("/api/tags")
    assert r.status_code == 500
    assert r.headers["content-type"] == "application/json"
    assert r.json()["error"]["code"] == "internal_server_error"
    assert "boom" not in r.text and "Traceback" not in r.text
    records = [rec for rec in caplog.records if rec.exc_info and "boom" in str(rec.exc_info[1])]
    assert len(records) == 1
    assert api.get("/api/domains").status_code == 200  # the app goes on answering
