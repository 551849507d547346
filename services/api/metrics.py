"""`GET /metrics`: Prometheus text exposition of this instance.

Open to loopback clients only (not through a proxy), unless COGOV_METRICS_TOKEN is set: then
to whoever sends it as a bearer token, from anywhere.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress

import structlog
from fastapi import APIRouter, Request, Response
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from sqlalchemy import func, select

from services.clearinghouse.models import Delivery, DeliveryStatus
from services.kit.errors import Forbidden, Unauthorized

log = structlog.get_logger()

router = APIRouter()

# Deliveries counted at scrape time: still owed, and given up after the retry window.
COUNTED_DELIVERIES = (DeliveryStatus.pending, DeliveryStatus.failed)
DATABASE_TIMEOUT_SECONDS = 2.0


class MetricsTokenRequired(Unauthorized):
    """Send the metrics token: 'Authorization: Bearer <COGOV_METRICS_TOKEN>'."""

    code = "metrics_token_required"


class MetricsLoopbackOnly(Forbidden):
    """Metrics are served to this host only; set COGOV_METRICS_TOKEN to scrape from elsewhere."""

    code = "metrics_loopback_only"


def _check_access(request: Request) -> None:
    token = request.app.state.settings.metrics_token
    if token is not None:
        sent = request.headers.get("authorization", "")
        if not hmac.compare_digest(sent.encode(), f"Bearer {token.get_secret_value()}".encode()):
            raise MetricsTokenRequired()
        return
    forwarded = "forwarded" in request.headers or "x-forwarded-for" in request.headers
    try:
        loopback = request.client is not None and ipaddress.ip_address(request.client.host).is_loopback
    except ValueError:
        loopback = False
    if forwarded or not loopback:
        raise MetricsLoopbackOnly()


async def _deliveries(request: Request) -> dict[DeliveryStatus, int] | None:
    try:
        async with asyncio.timeout(DATABASE_TIMEOUT_SECONDS), request.app.state.sessionmaker() as session:
            rows = await session.execute(
                select(Delivery.status, func.count()).where(Delivery.status.in_(COUNTED_DELIVERIES)).group_by(Delivery.status)
            )
            return {status: 0 for status in COUNTED_DELIVERIES} | {status: count for status, count in rows}
    except Exception as exc:  # the database is away: say so, and still serve the rest
        log.warning("metrics.database_unavailable", error=repr(exc))
        return None


class _StateNow:
    """Values read at scrape time, in a registry of their own for this one scrape."""

    def __init__(self, hub, deliveries: dict[DeliveryStatus, int] | None) -> None:
        self.hub, self.deliveries = hub, deliveries

    def collect(self):
        yield GaugeMetricFamily("cogov_sync_sockets_open", "Live sync sockets open on this instance.", value=len(self.hub.connections))
        yield GaugeMetricFamily(
            "cogov_text_readers", "Readers following a norm's live text (Server-Sent Events) on this instance.", value=self.hub.reader_count
        )
        yield GaugeMetricFamily(
            "cogov_documents_resident", "Norm documents loaded in this instance's memory.", value=self.hub.store.resident_count
        )
        yield GaugeMetricFamily("cogov_database_up", "1 if the database answered this scrape.", value=int(self.deliveries is not None))
        if self.deliveries is not None:
            family = GaugeMetricFamily(
                "cogov_deliveries",
                "WebSub deliveries in the outbox, by status (the whole database, not this instance).",
                labels=["status"],
            )
            for status, count in self.deliveries.items():
                family.add_metric([status.value], count)
            yield family


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    _check_access(request)
    now = CollectorRegistry(auto_describe=False)
    now.register(_StateNow(request.app.state.sync_hub, await _deliveries(request)))
    return Response(
        generate_latest(REGISTRY) + generate_latest(now), media_type=CONTENT_TYPE_PLAIN_0_0_4
    )  # the text format every Prometheus reads
