"""Schemathesis against a live server's /api/openapi.json, with hostile values mixed in.

One engine for the suite's short pass (tests/test_fuzz_api.py) and the long one (bench/fuzz_api.py):
for every documented operation it draws `examples` cases in each generation mode (schema-valid
and schema-breaking), and as many again with hostile values planted in the body and the query:
lone surrogates, NUL, 300-digit numbers and 100,000-character strings in every string and number
field. Each response goes through three checks (no 5xx, the status is documented, the body fits the
documented schema) and failures are collected, not raised, so one run reports them all with counts.
Hypothesis does not shrink (we never raise inside it), which keeps a run's time bounded.
"""
from __future__ import annotations

import collections
import json
from dataclasses import dataclass, field
from typing import Any

import requests
import schemathesis
from hypothesis.errors import Unsatisfiable
from hypothesis import HealthCheck, Phase, given, seed as seeded, settings, strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]

HOSTILE_STRINGS = ("\ud800", "a\udfffb", "\x00", "x\x00y", "\ud83d", "7" * 300, "z" * 100_000)
HOSTILE_NUMBERS = (int("9" * 300), -int("1" + "0" * 299), 10 ** 309, 1e308, -0.0)
HOSTILE_KEYS = ("\ud800", "\x00")


def _hostile_leaf(value: Any) -> st.SearchStrategy:
    if isinstance(value, bool) or value is None:
        return st.sampled_from([value, "\ud800", int("9" * 300)])
    if isinstance(value, (int, float)):
        return st.sampled_from(HOSTILE_NUMBERS + ("\x00",))
    if isinstance(value, str):
        return st.sampled_from(HOSTILE_STRINGS)
    return st.just(value)


def hostile(value: Any) -> st.SearchStrategy:
    """`value` with some of its leaves (and sometimes a key) replaced by hostile values."""
    if isinstance(value, dict):
        items = [st.tuples(st.just(k), st.one_of(st.just(v), hostile(v))) for k, v in value.items()]
        mapped = st.tuples(*items).map(dict) if items else st.just({})
        return st.one_of(mapped, mapped.flatmap(
            lambda d: st.sampled_from(HOSTILE_KEYS).map(lambda key: {**d, key: "x"})))
    if isinstance(value, list):
        if not value:
            return st.sampled_from([[], ["\ud800"], [int("9" * 300)]])
        return st.tuples(*(st.one_of(st.just(v), hostile(v)) for v in value)).map(list)
    return _hostile_leaf(value)


def _query_safe(value: Any) -> bool:
    # A query string is sent as UTF-8; a lone surrogate cannot be encoded by the client at all.
    # bench/bad_input.py sends those as raw percent-encoded bytes instead.
    return not (isinstance(value, str) and any(0xD800 <= ord(c) <= 0xDFFF for c in value))


def hostile_query(query: dict) -> st.SearchStrategy:
    def leaf(v: Any) -> st.SearchStrategy:
        return st.sampled_from([s for s in HOSTILE_STRINGS if _query_safe(s)] + [str(int("9" * 300))])

    items = [st.tuples(st.just(k), st.one_of(st.just(v), leaf(v))) for k, v in query.items()]
    return st.tuples(*items).map(dict) if items else st.just({})


@dataclass
class Report:
    cases: int = 0
    by_status: collections.Counter = field(default_factory=collections.Counter)
    failures: list[str] = field(default_factory=list)
    kinds: collections.Counter = field(default_factory=collections.Counter)

    def line(self) -> str:
        statuses = ", ".join(f"{s}: {n}" for s, n in sorted(self.by_status.items()))
        return (f"schemathesis: {self.cases} cases, {len(self.failures)} failures "
                f"({dict(self.kinds) or 'none'}); statuses {statuses}")


def _label(case) -> str:
    return f"{case.operation.method.upper()} {case.operation.path}"


def _titles(exc: BaseException) -> str:
    found = getattr(exc, "exceptions", [exc])
    return "; ".join(f"{getattr(e, 'title', type(e).__name__)}: {str(getattr(e, 'message', e))[:300]}" for e in found)


def _describe(case, response, exc: BaseException) -> str:
    body = case.body if not isinstance(case.body, (dict, list)) else json.dumps(case.body)[:300]
    return (f"{_label(case)} query={str(case.query)[:200]} body={str(body)[:300]} -> "
            f"{response.status_code} {response.text[:300]!r}: {_titles(exc)}")


def fuzz(api_url: str, key: str, *, examples: int, seed: int = 0) -> Report:
    """Run the pass against `api_url` (the live server's .../api); returns what it saw."""
    schema = schemathesis.openapi.from_url(f"{api_url}/openapi.json")
    report = Report()
    session = requests.Session()

    auth = {"Authorization": f"Bearer {key}"}

    def record(case, response: requests.Response | None, error: BaseException | None = None) -> None:
        report.cases += 1
        if response is None:
            report.kinds["no answer"] += 1
            report.failures.append(f"{_label(case)}: no answer ({error})")
            return
        report.by_status[response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS)
        except (AssertionError, FailureGroup) as exc:
            names = sorted({getattr(e, "title", type(e).__name__) for e in getattr(exc, "exceptions", [exc])})
            for name in names:
                report.kinds[name] += 1
            report.failures.append(_describe(case, response, exc))

    def send(case) -> None:
        try:
            response = case.call(base_url=api_url, session=session, headers=auth, timeout=30)
        except requests.RequestException as exc:
            return record(case, None, exc)
        record(case, response)

    def send_hostile(case, data) -> None:
        # Sent by hand: schemathesis re-validates an edited case with a validator that cannot
        # encode lone surrogates, so the hostile values never touch the case itself.
        kwargs = case.as_transport_kwargs(base_url=api_url, headers=auth)
        if isinstance(kwargs.get("json"), (dict, list)):
            kwargs["json"] = data.draw(hostile(kwargs["json"]))
        if kwargs.get("params"):
            kwargs["params"] = data.draw(hostile_query(kwargs["params"]))
        try:
            response = session.request(**kwargs, timeout=30)
        except requests.RequestException as exc:
            return record(case, None, exc)
        record(case, response)

    run_settings = settings(
        max_examples=examples, deadline=None, database=None, derandomize=seed == 0,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    if seed:
        run_settings = (lambda s: lambda fn: s(seeded(seed)(fn)))(run_settings)
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode)

            @run_settings
            @given(case=strategy)
            def plain(case) -> None:
                send(case)

            try:
                plain()
            except Unsatisfiable:
                pass  # nothing in this operation can be made to break its schema (no inputs): nothing to send

        @run_settings
        @given(case=operation.as_strategy(), data=st.data())
        def with_hostile_values(case, data) -> None:
            send_hostile(case, data)

        with_hostile_values()
    return report
