"""The published key set: every Ed25519 key that has signed anything (entries, tree heads), listed forever."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.clearinghouse import signing
from services.clearinghouse.models import PublicationKey
from services.clearinghouse.signing import SigningKey


async def register_key(session: AsyncSession, key: SigningKey, now: datetime) -> None:
    """List the signing key in the JWK set from its first signature on, forever."""
    insert = pg_insert if session.bind.dialect.name == "postgresql" else sqlite_insert
    await session.execute(insert(PublicationKey).values(kid=key.kid, public_key=key.public_key, first_used_at=now).on_conflict_do_nothing())


async def key_set(session: AsyncSession, current: SigningKey | None) -> dict:
    """The JWK set: the current key first, then every key that has signed (old keys stay listed after rotation)."""
    rows = (await session.scalars(select(PublicationKey).order_by(PublicationKey.first_used_at.desc()))).all()
    listed = [signing.jwk(current.public_key)] if current else []
    listed += [signing.jwk(row.public_key) for row in rows if current is None or row.kid != current.kid]
    return {"keys": listed}
