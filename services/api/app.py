"""The FastAPI application factory."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from networks.router import router as networks_router
from networks.verification_router import router as verification_router
from norms import ballots
from norms.ballot_router import router as ballots_router
from norms.consultation_router import router as consultations_router
from norms.diff import DiffCache
from norms.drafting_router import router as drafting_router
from norms.router import AUTOMERGE_UPLOAD
from norms.router import router as norms_router
from norms.translation_router import router as translations_router
from services.accounts.address_router import router as addresses_router
from services.accounts.router import router as accounts_router
from services.accounts.security import PasswordHashing
from services.api import errors
from services.api.docs import DOCS_PATH, OAUTH2_REDIRECT_PATH
from services.api.docs import router as docs_router
from services.api.health import router as health_router
from services.api.metrics import router as metrics_router
from services.api.middleware import DOCS_POLICY, BodySizeLimit, RequestId, RequestMetrics, SecurityHeaders
from services.api.ratelimit import LoginThrottle, RateLimits
from services.audit.router import router as audit_router
from services.clearinghouse import router as clearinghouse
from services.clearinghouse import worker as clearinghouse_worker
from services.kit.broker import create_broker
from services.kit.ratelimit import RateLimiter
from services.kit.runtime import tune_garbage_collector
from services.notifications.router import router as notifications_router
from services.realtime.hub import SyncHub
from services.realtime.router import router as sync_router
from services.realtime.router import text_router
from services.runtime import build_runtime
from services.search import worker as search_worker
from services.search.router import router as search_router
from services.settings import Settings, check_secret
from services.web import consultations as consultation_pages
from services.web import router as web

DESCRIPTION = """
CoGov hosts self-forming multistakeholder expert networks that co-write voluntary norms,
adopt a version only when no stakeholder group and no region can decide alone, and publish
adopted norms through a clearing house. Errors are JSON `{"detail": ..., "code": ...}`.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """A configured application on a runtime of its own; its engine opens connections lazily and closes on shutdown."""
    settings = settings or Settings()
    _ = settings.signing_key  # fail at start, not at first sign-in, if the secret is unusable
    if settings.metrics_token is not None:
        check_secret(settings.metrics_token.get_secret_value(), "COGOV_METRICS_TOKEN")
    runtime = build_runtime(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        tune_garbage_collector()  # started: what exists now lives as long as the process
        # Closes ballots at their deadline; safe with several instances doing the same.
        async with ballots.closing_ballots(runtime.sessionmaker, runtime.clock, interval=app.state.ballot_sweep_seconds):
            # Publishes adoptions and makes WebSub deliveries, unless a separate `cogov worker` does.
            async with clearinghouse_worker.in_serve(runtime), search_worker.in_serve(runtime):
                yield
        await app.state.sync_hub.stop()
        app.state.password_hashing.close()
        app.state.diffs.close()
        await runtime.aclose()

    app = FastAPI(
        title="CoGov",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # services/api/docs.py serves it, with its Content-Security-Policy
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.runtime = runtime
    # What requests read; the same objects as the runtime's (a test swapping the clock swaps both).
    app.state.settings = settings
    app.state.engine = runtime.engine
    app.state.sessionmaker = runtime.sessionmaker
    app.state.norm_store = runtime.norm_store
    app.state.taxonomy = runtime.taxonomy
    app.state.clock = runtime.clock
    app.state.clearinghouse = runtime.clearinghouse
    app.state.diffs = DiffCache(seconds=settings.diff_seconds, max_chars=settings.diff_cache_chars, workers=settings.diff_workers)
    app.state.ballot_sweep_seconds = ballots.SWEEP_SECONDS
    app.state.sync_hub = SyncHub(settings, app.state.sessionmaker, app.state.norm_store, create_broker(settings.redis_url))
    app.state.rate_limiter = RateLimiter(settings.redis_url)
    app.state.password_hashing = PasswordHashing(settings.password_hash_workers, settings.password_hash_waiting)
    app.state.login_throttle = LoginThrottle(app.state.rate_limiter, settings.login_failures_per_minute)
    errors.install(app)
    if settings.rate_limits_enabled:
        app.add_middleware(RateLimits, limiter=app.state.rate_limiter, settings=settings)
    app.add_middleware(
        BodySizeLimit,
        limit=settings.max_body_bytes,
        # Automerge uploads carry whole documents; the store applies its own, exact limit.
        overrides={AUTOMERGE_UPLOAD: settings.submission_max_bytes + 1},
    )
    app.add_middleware(
        SecurityHeaders,
        hsts_seconds=settings.hsts_seconds if settings.serves_https else 0,
        policies={DOCS_PATH: DOCS_POLICY, OAUTH2_REDIRECT_PATH: DOCS_POLICY},
    )
    app.add_middleware(RequestMetrics)
    app.add_middleware(RequestId)
    if settings.allowed_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=settings.allowed_origins, allow_credentials=True, allow_methods=["*"], allow_headers=["*"]
        )
    # First: feeds are the most requested paths, and routes are matched in order.
    clearinghouse.install(app)
    for router in (
        health_router,
        docs_router,
        metrics_router,
        accounts_router,
        addresses_router,
        audit_router,
        networks_router,
        verification_router,
        norms_router,
        ballots_router,
        consultations_router,
        drafting_router,
        translations_router,
        notifications_router,
        search_router,
        sync_router,
        text_router,
    ):
        app.include_router(router)
    clearinghouse.install_api(app)
    web.install(app)
    app.include_router(consultation_pages.router)
    return app
