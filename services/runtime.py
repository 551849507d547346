"""What one CoGov process runs on, serving HTTP or not: the database, the norm store, the clock and the
clearing house's key and feed cache.

`create_app` builds one and serves on it; `cogov worker` builds one alone, so the background jobs
start without the web app (and without importing FastAPI).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, replace

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from networks.taxonomy import Taxonomy, configured_taxonomy
from norms.store import Limits, NormStore
from services.clearinghouse import signing
from services.clearinghouse.feedstate import FeedCache
from services.clearinghouse.signing import SigningKey
from services.kit import logging as kit_logging
from services.kit.clock import Clock, SystemClock
from services.kit.db import create_engine, create_sessionmaker
from services.search import index as _search_index  # noqa: F401  (its listeners feed the index in every unit of work)
from services.settings import Settings


@dataclass
class ClearingHouse:
    """What the clearing house keeps in one process (the app's is `app.state.clearinghouse`)."""

    key: SigningKey
    cache: FeedCache = field(default_factory=FeedCache)
    # Set by a worker running in this process, so a request that gives it work wakes it.
    wake: asyncio.Event | None = None

    def nudge(self) -> None:
        if self.wake is not None:
            self.wake.set()


@dataclass
class Runtime:
    """One process's shared parts; the app's `app.state` attributes of the same names are these."""

    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    norm_store: NormStore
    taxonomy: Taxonomy
    clock: Clock
    clearinghouse: ClearingHouse

    async def aclose(self) -> None:
        """Close the database's connections; the runtime is not used after."""
        await self.engine.dispose()


def build_runtime(settings: Settings) -> Runtime:
    """Configure logging, load the taxonomy and the publication key (creating the key on first start) and
    make an engine that opens connections lazily: nothing here touches the database."""
    kit_logging.configure(settings.log_level, settings.log_json)
    engine = create_engine(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
    sessionmaker = create_sessionmaker(engine)
    limits = Limits(
        snapshot_every=settings.snapshot_every,
        max_chars=settings.norm_max_chars,
        max_ops=settings.submission_max_ops,
        max_bytes=settings.submission_max_bytes,
    )
    publication_key = settings.publication_key.get_secret_value() if settings.publication_key else None
    return Runtime(
        settings=settings,
        engine=engine,
        sessionmaker=sessionmaker,
        norm_store=NormStore(sessionmaker, limits, idle_seconds=settings.document_idle_seconds),
        taxonomy=replace(configured_taxonomy(settings.taxonomy_file), vouches_needed=settings.vouches_needed),
        clock=SystemClock(),
        clearinghouse=ClearingHouse(key=signing.configured_key(publication_key, settings.data_dir)),
    )
