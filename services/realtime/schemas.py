from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class TicketOut(BaseModel):
    ticket: str
    expires_at: datetime
    url: str  # the WebSocket address to connect to, ticket included


class ResidentDocument(BaseModel):
    url: str
    peers: int
    change_count: int
    approx_bytes: int
    idle_seconds: float


class SyncStats(BaseModel):
    instance: str
    connections: int
    signed_in_connections: int
    resident_documents: int
    approx_bytes: int
    rss_bytes: int | None
    documents: list[ResidentDocument]
