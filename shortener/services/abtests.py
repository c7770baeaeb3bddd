"""A/B destinations (Dub's testVariants): validation, the variant a visitor gets, and the winner.

- A link may carry 2-4 variants `{url, percentage}`, each 10-90 %, summing to 100, with
  `testCompletedAt` (required) and `testStartedAt` (default: when the variants were set).
- While the test runs, a visitor's variant is derived from their click id. The click recorder
  hands a repeat visitor (same IP and user agent on the same link inside the dedup window) the
  same click id, so they stay on their variant for as long as the window holds, with nothing
  stored beside it. Visitors who are not tracked (bots, dub-no-track) get a random pick by weight.
- After `testCompletedAt`, the first visit decides the winner once: the variant with the most
  leads during the test, else the most clicks, ties to the first variant. The link's `url`
  becomes the winner (as Dub's cron does), `test_decided_at` records the decision, and from then
  on the link redirects like any other.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import math
import random
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from shortener import urls
from shortener.errors import Unprocessable, json_type
from shortener.timeutil import iso, now_iso, parse_iso

MIN_VARIANTS, MAX_VARIANTS = 2, 4
MIN_PERCENTAGE, MAX_PERCENTAGE = 10, 90
_TEST_COLUMNS = ("test_variants", "test_started_at", "test_completed_at")


# -- request bodies ----------------------------------------------------------------------------

def parse_variants(value: Any) -> str | None:
    """The stored form (JSON) of a body's testVariants; raises 422 naming the field."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise Unprocessable(f"Expected array, received {json_type(value)}.", field="testVariants", issue="invalid_type")
    if not MIN_VARIANTS <= len(value) <= MAX_VARIANTS:
        raise Unprocessable(f"Expected {MIN_VARIANTS} to {MAX_VARIANTS} variants.", field="testVariants",
                            issue="too_small" if len(value) < MIN_VARIANTS else "too_big")
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise Unprocessable(f"Expected object, received {json_type(item)}.", field=f"testVariants.{i}",
                                issue="invalid_type")
        url = item.get("url")
        if not isinstance(url, str):
            raise Unprocessable(f"Expected string, received {json_type(url)}.", field=f"testVariants.{i}.url",
                                issue="invalid_type")
        pct = item.get("percentage")
        if isinstance(pct, bool) or not isinstance(pct, (int, float)) or not math.isfinite(pct):
            raise Unprocessable(f"Expected number, received {json_type(pct)}.", field=f"testVariants.{i}.percentage",
                                issue="invalid_type")
        if not MIN_PERCENTAGE <= pct <= MAX_PERCENTAGE:
            raise Unprocessable(f"Must be between {MIN_PERCENTAGE} and {MAX_PERCENTAGE}.",
                                field=f"testVariants.{i}.percentage",
                                issue="too_small" if pct < MIN_PERCENTAGE else "too_big")
        out.append({"url": urls.normalise_url(url, field=f"testVariants.{i}.url"),
                    "percentage": int(pct) if pct == int(pct) else pct})
    if abs(sum(v["percentage"] for v in out) - 100) > 1e-9:
        raise Unprocessable("Test URL percentages must add up to 100.", field="testVariants", issue="custom")
    return json.dumps(out, separators=(",", ":"))


def parse_date(body: dict, name: str) -> str | None:
    value = body[name]
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise Unprocessable(f"Expected string, received {json_type(value)}.", field=name, issue="invalid_type")
    try:
        return iso(parse_iso(value))
    except (ValueError, OverflowError):
        raise Unprocessable("Invalid date.", field=name, issue="invalid_date") from None


def finish(row: dict, changes: dict) -> dict:
    """Column changes that complete a create or update touching the test: the start date defaults
    to now, the end is required, and a changed test is undecided again. `row` is the link as it
    will be (stored values with `changes` applied); raises 422."""
    if not any(c in changes for c in _TEST_COLUMNS):
        return {}
    extra: dict = {"test_decided_at": None}
    if row.get("test_variants") is None:
        if changes.get("test_variants", ...) is None and "test_variants" in changes:
            # removing the variants ends the test; dates sent with the removal are kept
            for column in ("test_started_at", "test_completed_at"):
                if column not in changes:
                    extra[column] = None
        return extra
    started = row.get("test_started_at")
    if started is None:
        started = extra["test_started_at"] = now_iso()
    completed = row.get("test_completed_at")
    if completed is None:
        raise Unprocessable("testCompletedAt is required with testVariants.", field="testCompletedAt",
                            issue="invalid_type")
    if completed <= started:
        raise Unprocessable("testCompletedAt must be after testStartedAt.", field="testCompletedAt",
                            issue="invalid_date")
    return extra


def to_api(row: dict) -> dict:
    return {
        "testVariants": json.loads(row["test_variants"]) if row.get("test_variants") else None,
        "testStartedAt": row.get("test_started_at"),
        "testCompletedAt": row.get("test_completed_at"),
    }


# -- the redirect's pick -------------------------------------------------------------------------

def thresholds(variants_json: str) -> tuple[tuple[str, int], ...]:
    """(url, cumulative upper bound in hundredths of a percent) per variant, for `pick`."""
    out, total = [], 0.0
    for v in json.loads(variants_json):
        total += v["percentage"]
        out.append((v["url"], round(total * 100)))
    return tuple(out)


def pick(variants: tuple[tuple[str, int], ...], click_id: str | None) -> str:
    """The variant for a visitor: a fixed function of the click id (uniform over 0-9999), so
    the same click id always gets the same variant; random for a visitor without one."""
    if click_id is None:
        bucket = random.randrange(10_000)
    else:
        digest = hashlib.blake2b(click_id.encode("ascii", "replace"), digest_size=8).digest()
        bucket = int.from_bytes(digest, "big") % 10_000
    for url, upper in variants:
        if bucket < upper:
            return url
    return variants[-1][0]


# -- the winner ------------------------------------------------------------------------------------

def _base_and_query(url: str) -> tuple[str, frozenset]:
    parts = urlsplit(url)
    base = f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path.rstrip('/')}"
    return base, frozenset(parse_qsl(parts.query, keep_blank_values=True))


def variant_of(click_url: str, variants: list[str]) -> int | None:
    """Which variant a click went to: the click's URL is the variant's plus the visitor's query
    (and dub_id), so the same base and all the variant's own query parameters. The most specific
    variant wins, then the first."""
    try:
        base, query = _base_and_query(click_url)
    except ValueError:
        return None
    best, best_size = None, -1
    for i, url in enumerate(variants):
        v_base, v_query = _base_and_query(url)
        if v_base == base and v_query <= query and len(v_query) > best_size:
            best, best_size = i, len(v_query)
    return best


def winner(variants: list[str], clicks_by_url: list[tuple[str, int]], leads_by_url: list[tuple[str, int]]) -> int:
    """The index of the winning variant: most leads, else most clicks, ties to the first."""
    clicks = [0] * len(variants)
    leads = [0] * len(variants)
    for target, rows in ((clicks, clicks_by_url), (leads, leads_by_url)):
        for url, n in rows:
            i = variant_of(url, variants)
            if i is not None:
                target[i] += n
    counts = leads if any(leads) else clicks
    return counts.index(max(counts))


class ABTestService:
    def __init__(self, core) -> None:
        self.core = core
        self._deciding: dict[str, asyncio.Future] = {}

    async def decide(self, link_id: str) -> str | None:
        """Choose the winner of a completed test once (concurrent callers share the decision);
        the link's URL afterwards, or None when the link is gone."""
        running = self._deciding.get(link_id)
        if running is not None:
            return await asyncio.shield(running)
        future = asyncio.get_running_loop().create_future()
        self._deciding[link_id] = future
        try:
            result = await self._decide(link_id)
            future.set_result(result)
            return result
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: a failure here must not be logged as unretrieved
            raise
        finally:
            del self._deciding[link_id]

    async def _decide(self, link_id: str) -> str | None:
        store = self.core.store
        row = await store.get_link(link_id)
        if row is None:
            return None
        if row["test_decided_at"] or not row["test_variants"] or not row["test_completed_at"]:
            return row["url"]
        if row["test_completed_at"] > now_iso():
            return row["url"]  # not over (the end was moved since the cache read it)
        variants = [v["url"] for v in json.loads(row["test_variants"])]
        # The clicks of the test are written by the click writer within a flush window: flush first.
        await self.core.clicks.flush()
        clicks, leads = await store.ab_test_results(link_id, row["test_started_at"] or "", row["test_completed_at"])
        url = variants[winner(variants, clicks, leads)]
        previous = await self.core.links.get(link_id)
        if not await store.complete_ab_test(link_id, url, urls.utm_params(url), now_iso()):
            return (await store.get_link(link_id) or row)["url"]
        obj = await self.core.links.get(link_id)
        await self.core.link_changed("link.updated", obj, previous)
        return url
