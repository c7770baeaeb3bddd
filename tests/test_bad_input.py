"""A short bad-input run (issue 14; the long one is bench/bad_input.py): lone surrogates, NUL bytes,
10 MB bodies, deep nesting, overlong numbers and wrong types on every endpoint give no 5xx, API
errors keep Dub's JSON shape, and afterwards every list endpoint and a fresh lead answer 200."""
from __future__ import annotations

import os

import bad_input_support

TOTAL = int(os.environ.get("BAD_INPUT_REQUESTS", "800"))


def test_bad_input_gives_no_5xx_and_leaves_the_api_working(live_server):
    server = live_server(SHORTENER_WEBHOOK_ALLOW_PRIVATE="true", SHORTENER_LOG_LEVEL="warning")
    counts = bad_input_support.run(server.url, server.key, TOTAL)
    after = bad_input_support.after_check(server.url, server.key)
    print("\n" + counts.line())
    print("after:", after)
    assert counts.requests == TOTAL and len(counts.by_endpoint) >= 40
    assert not counts.server_errors, "\n".join(counts.server_errors[:20])
    assert not counts.no_answer, "\n".join(counts.no_answer[:20])
    assert not counts.not_dub_json, "\n".join(counts.not_dub_json[:20])
    assert {k: v for k, v in after.items() if v != 200 and k != "GET /{key} (fresh)"} == {}
    assert after["GET /{key} (fresh)"] == 302
