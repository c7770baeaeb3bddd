"""Prometheus metrics, read at scrape time from counters the application keeps anyway.

Nothing here runs on the request path except `RequestStats.observe` (a dict increment and a
bisect), and only when metrics are on. Everything else (clicks written and dropped, leads and
sales, webhook deliveries, link cache size) is read from the components' own counters when
Prometheus scrapes, by one custom collector in a registry of the app's own: tests build many
apps in one process, and the global registry would mix them.
"""
from __future__ import annotations

import bisect
from typing import Any, Callable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Redirect latency buckets, in seconds: a redirect served from the cache takes well under 1 ms
# in-process; the upper buckets catch a loop stalled by other work.
REDIRECT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class RequestStats:
    """Requests by (kind, status), and the redirect latency as histogram bucket counts."""

    def __init__(self) -> None:
        self.requests: dict[tuple[str, int], int] = {}
        self.redirect_buckets = [0] * (len(REDIRECT_BUCKETS) + 1)  # the last one is +Inf
        self.redirect_sum = 0.0

    def observe(self, kind: str, status: int, seconds: float) -> None:
        key = (kind, status)
        self.requests[key] = self.requests.get(key, 0) + 1
        if kind == "redirect":
            self.redirect_buckets[bisect.bisect_left(REDIRECT_BUCKETS, seconds)] += 1
            self.redirect_sum += seconds


def _counter(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, value=value)


def _gauge(name: str, doc: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, value=value)


def _histogram(name: str, doc: str, bounds, counts, total: float) -> HistogramMetricFamily:
    """A histogram from per-bucket counts (the last one +Inf), made cumulative as Prometheus wants."""
    cumulative, buckets = 0, []
    for bound, n in zip((*bounds, float("inf")), counts):
        cumulative += n
        buckets.append(("+Inf" if bound == float("inf") else repr(bound), cumulative))
    return HistogramMetricFamily(name, doc, buckets=buckets, sum_value=total)


class ShortenerCollector(Collector):
    def __init__(self, stats: RequestStats, core: Callable[[], Any]) -> None:
        self.stats = stats
        self.core = core

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily("shortener_requests", "HTTP requests answered, by kind and status.",
                                       labels=["kind", "status"])
        for (kind, status), n in sorted(self.stats.requests.items()):
            requests.add_metric([kind, str(status)], n)
        yield requests

        yield _histogram("shortener_redirect_duration_seconds", "Time to answer a short-link request, in seconds.",
                         REDIRECT_BUCKETS, self.stats.redirect_buckets, self.stats.redirect_sum)

        core = self.core()
        if core is None:  # not started yet, or stopped
            return
        clicks = core.clicks
        yield _gauge("shortener_clicks_queued", "Clicks waiting in memory to be written.", clicks.queued)
        yield _counter("shortener_clicks_written", "Click rows written to the database.", clicks.written)
        dropped = CounterMetricFamily("shortener_clicks_dropped",
                                      "Clicks not written: queue full, or a crawler found by the full parse.",
                                      labels=["reason"])
        dropped.add_metric(["queue_full"], clicks.dropped)
        dropped.add_metric(["crawler"], clicks.bots_dropped)
        yield dropped
        yield _counter("shortener_click_write_failures", "Click batches whose write failed (and were retried).",
                       clicks.failures)

        conversions = core.conversions
        yield _counter("shortener_leads", "Lead events recorded.", conversions.leads_recorded)
        yield _counter("shortener_sales", "Sale events recorded.", conversions.sales_recorded)

        deliveries = CounterMetricFamily("shortener_webhook_deliveries", "Webhook delivery attempts, by outcome.",
                                         labels=["outcome"])
        for outcome, n in sorted(core.webhooks.outcomes.items()):
            deliveries.add_metric([outcome], n)
        yield deliveries

        waits = getattr(core.store, "write_waits", None)
        if waits is not None:
            yield _histogram("shortener_store_write_wait_seconds",
                             "An API write's wait for the database's write lock (held by the click writer "
                             "between the units it commits), in seconds.", waits.bounds, waits.counts, waits.total)

        cache = core.link_cache
        yield _gauge("shortener_link_cache_links", "Links held in the redirect cache.", cache.size)
        yield _counter("shortener_link_cache_hits", "Redirect lookups answered by the cache.", cache.hits)
        yield _counter("shortener_link_cache_loads", "Redirect lookups that read the database.", cache.loads)


class Metrics:
    """One app's registry: request stats filled by the web layer, the rest read from the Core."""

    def __init__(self) -> None:
        self.stats = RequestStats()
        self.core: Any = None
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(ShortenerCollector(self.stats, lambda: self.core))

    def render(self) -> bytes:
        return generate_latest(self.registry)
