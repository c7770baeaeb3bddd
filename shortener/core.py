"""The running application without its transport: settings, store and services, wired once.

The web app and the CLI both build a Core; nothing here imports Starlette.
"""
from __future__ import annotations

import logging
from typing import Any

from shortener.attempts import AttemptLimiter, MemoryAttemptLimiter
from shortener.config import Settings, load_secret_key
from shortener.services.apikeys import ApiKeyService
from shortener.services.users import UserService
from shortener.signing import Signer
from shortener.store import open_store

log = logging.getLogger("shortener")

PASSWORD_WINDOW = 600.0  # seconds in which SHORTENER_PASSWORD_ATTEMPTS failures are allowed
SIGNIN_ATTEMPTS = 10     # failed dashboard sign-ins per client network, and per email, ...
SIGNIN_WINDOW = 600.0    # ... in this many seconds


class Core:
    def __init__(self, settings: Settings, store: Any, secret_key: bytes) -> None:
        from shortener.analytics import AnalyticsService
        from shortener.clicks import ClickRecorder
        from shortener.conversions import ConversionService
        from shortener.linkcache import LinkCache
        from shortener.monthrollups import MonthRollups
        from shortener.qrcodes import QrRenderer
        from shortener.retention import ClickRetention
        from shortener.services.abtests import ABTestService
        from shortener.services.clicktrack import ClickTrackService
        from shortener.services.domains import DomainService
        from shortener.services.folders import FolderService
        from shortener.services.links import LinkService
        from shortener.services.tags import TagService
        from shortener.webhooks import WebhookService

        from shortener.geo import GeoLocator

        self.settings = settings
        self.store = store
        self.geo = GeoLocator(settings.geoip_db)
        self.signer = Signer(secret_key)
        # Behind an interface: a shared implementation can replace it for several processes.
        self.password_attempts: AttemptLimiter = MemoryAttemptLimiter(settings.password_attempts, PASSWORD_WINDOW)
        self.signin_attempts: AttemptLimiter = MemoryAttemptLimiter(SIGNIN_ATTEMPTS, SIGNIN_WINDOW)
        self.api_keys = ApiKeyService(store)
        self.users = UserService(store)
        self.domains = DomainService(self)
        self.tags = TagService(self)
        self.folders = FolderService(self)
        self.links = LinkService(self)
        self.ab_tests = ABTestService(self)
        self.click_track = ClickTrackService(self)
        self.link_cache = LinkCache(self)
        self.clicks = ClickRecorder(self)
        self.conversions = ConversionService(self)
        self.analytics = AnalyticsService(self)
        self.webhooks = WebhookService(self)
        self.qr = QrRenderer(settings.qr_workers, settings.qr_max_pending)
        self.retention = ClickRetention(self)
        self.month_rollups = MonthRollups(self)
        # Started in this order, stopped in reverse: the click writer stops (and flushes)
        # before the store closes.
        self._components = [self.domains, self.link_cache, self.clicks, self.conversions, self.webhooks,
                            self.qr, self.retention, self.month_rollups]
        self._started: list[Any] = []

    @classmethod
    async def open(cls, settings: Settings, *, migrate: bool = True) -> "Core":
        store = await open_store(settings, migrate=migrate)
        try:
            return cls(settings, store, load_secret_key(settings))
        except BaseException:  # e.g. an unreadable GeoIP database: close, or its thread keeps us alive
            await store.close()
            raise

    async def start(self) -> None:
        """Start background work (click writer, cache sync, webhook delivery)."""
        for component in self._components:
            start = getattr(component, "start", None)
            if start is not None:
                await start()
            self._started.append(component)

    async def close(self) -> None:
        while self._started:
            component = self._started.pop()
            stop = getattr(component, "stop", None)
            if stop is not None:
                try:
                    await stop()
                except Exception:  # keep closing the rest; the store must still close
                    log.exception("stopping %r failed", component)
        await self.store.close()

    async def link_changed(self, event: str, link: dict, previous: dict | None = None) -> None:
        """Called by the link service after a committed create/update/delete.

        `event` is link.created, link.updated or link.deleted; `link` is the API link object;
        `previous` the object before an update (its domain/key may differ).
        """
        for obj in (previous, link):
            if obj is not None:
                self.link_cache.invalidate(obj["domain"], obj["key"])
        await self.webhooks.enqueue(event, link)
