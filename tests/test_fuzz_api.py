"""Schemathesis on a live server (issue 14): zero server errors, zero undocumented status codes and
zero responses that break the documented schema, with hostile values in every field.

One pass (tests/fuzz_support.py) runs per module; the three properties are separate tests so each
one's failures are reported on their own. The pass is bounded (`EXAMPLES` cases per operation and
mode); `bench/fuzz_api.py` is the long run.
"""
from __future__ import annotations

import os

import pytest

from fault_support import make_server
from fuzz_support import fuzz

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "4"))


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    server = make_server(tmp_path_factory.mktemp("fuzz") / "data")
    server.start()
    try:
        found = fuzz(server.api_url, server.key, examples=EXAMPLES)
    finally:
        server.stop()
    print("\n" + found.line())
    assert found.cases > 0
    return found


def _failures(report, kind: str) -> list[str]:
    return [f for f in report.failures if kind in f]


def test_fuzz_no_server_errors(report):
    found = _failures(report, "Server error") + _failures(report, "no answer")
    assert not found, f"{len(found)} of {report.cases} cases:\n" + "\n".join(found[:20])


def test_fuzz_no_undocumented_status_codes(report):
    found = _failures(report, "Undocumented status code")
    assert not found, f"{len(found)} of {report.cases} cases:\n" + "\n".join(found[:20])


def test_fuzz_responses_fit_the_documented_schemas(report):
    found = [f for f in report.failures
             if not any(k in f for k in ("Server error", "no answer", "Undocumented status code"))]
    assert not found, f"{len(found)} of {report.cases} cases:\n" + "\n".join(found[:20])
