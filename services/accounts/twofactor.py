"""Two-factor sign-in: time-based one-time codes (TOTP, RFC 6238: six digits, 30-second steps) and ten
single-use recovery codes.

Promises: a code is accepted at most once (the last accepted time step is kept and only a later step
passes, in one conditional UPDATE, so two requests racing with one code cannot both pass); a recovery code
is accepted at most once (likewise); the secret is only kept once the person has proven, with a code, that
their authenticator holds it. Staff and administrators must enrol (`require_for_role`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from datetime import datetime, timedelta

import jwt
import pyotp
import segno
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.accounts.models import Participant, RecoveryCode, Role
from services.accounts.security import ALGORITHM
from services.audit import service as audit
from services.kit.errors import Conflict, Forbidden, InvalidInput, Unauthorized

ISSUER = "CoGov"
RECOVERY_CODES = 10
# 16 base32 characters: 80 random bits per recovery code.
RECOVERY_CODE_BYTES = 10
ENROLMENT_MINUTES = 15
ENROLMENT_TYPE = "totp_enrolment"
# Codes of the step before and after the current one pass too: phones' clocks drift.
DRIFT_STEPS = 1
PRIVILEGED = (Role.staff, Role.admin, Role.registrar)


class InvalidCode(Unauthorized):
    """That code is wrong, expired or already used; enter the current code from your authenticator app."""

    code = "invalid_code"


class TotpRequired(Unauthorized):
    """The password is right; now send a code from your authenticator app (or a recovery code) with this
    challenge to POST /api/v1/auth/token/totp."""

    code = "totp_required"


class TwoFactorRequired(Forbidden):
    """Staff and administrators must sign in with two-factor authentication: enrol at /settings/two-factor,
    then sign in again with a code."""

    code = "two_factor_required"


class EnrolmentExpired(InvalidInput):
    """This enrolment has expired or was not made here; start again to get a new QR code."""

    code = "enrolment_expired"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, errors=[{"field": "enrolment", "message": detail or self.__doc__}])


class AlreadyEnrolled(Conflict):
    """Two-factor sign-in is already on for this account."""

    code = "already_enrolled"


class NotEnrolled(Conflict):
    """Two-factor sign-in is not on for this account."""

    code = "not_enrolled"


class RequiredForRole(Conflict):
    """Staff and administrators cannot turn two-factor sign-in off."""

    code = "two_factor_required_for_role"


def enrolled(participant: Participant) -> bool:
    return participant.totp_enabled_at is not None and participant.totp_secret is not None


def privileged(participant: Participant | None, session_two_factor: bool) -> bool:
    """Whether this signed-in staff or admin may act as such: enrolled, on a session that proved a code."""
    return participant is not None and participant.role in PRIVILEGED and enrolled(participant) and session_two_factor


def require_for_role(participant: Participant, session_two_factor: bool) -> None:
    """Raise `TwoFactorRequired` (403) unless a staff, registrar or admin account is enrolled and this session proved a code."""
    if participant.role in PRIVILEGED and not (enrolled(participant) and session_two_factor):
        if enrolled(participant):
            raise TwoFactorRequired("Sign out and sign in again with a code from your authenticator app to use staff actions")
        raise TwoFactorRequired()


# --- Enrolment --------------------------------------------------------------------------------


def new_enrolment(participant: Participant, secret_key: str, now: datetime) -> dict[str, str]:
    """A fresh secret to show (as text and as a QR code) and a signed `enrolment` token carrying it back.

    Nothing is stored until `enable` gets a code made from it.
    """
    secret = pyotp.random_base32()
    claims = {"sub": str(participant.id), "secret": secret, "typ": ENROLMENT_TYPE, "exp": now + timedelta(minutes=ENROLMENT_MINUTES)}
    return _shown(participant, secret, jwt.encode(claims, secret_key, algorithm=ALGORITHM))


def resume_enrolment(enrolment: str, participant: Participant, secret_key: str) -> dict[str, str]:
    """As `new_enrolment`, for an enrolment under way (its form shown again after a wrong code); `EnrolmentExpired`."""
    return _shown(participant, _enrolment_secret(enrolment, participant, secret_key), enrolment)


def _shown(participant: Participant, secret: str, enrolment: str) -> dict[str, str]:
    uri = pyotp.TOTP(secret).provisioning_uri(name=participant.email, issuer_name=ISSUER)
    return {"secret": secret, "otpauth_uri": uri, "qr_svg": qr_svg(uri), "enrolment": enrolment}


def qr_svg(uri: str) -> str:
    """The URI as a QR code, an inline SVG element (no XML declaration, scaled by its viewBox)."""
    return segno.make(uri, error="m").svg_inline(scale=4, dark="#111", light="#fff", title="QR code for your authenticator app")


def _enrolment_secret(enrolment: str, participant: Participant, secret_key: str) -> str:
    try:
        claims = jwt.decode(enrolment, secret_key, algorithms=[ALGORITHM], options={"require": ["sub", "exp", "secret"]})
    except (jwt.PyJWTError, ValueError, TypeError):
        raise EnrolmentExpired() from None
    if claims.get("typ") != ENROLMENT_TYPE or claims.get("sub") != str(participant.id) or not isinstance(claims["secret"], str):
        raise EnrolmentExpired()
    return claims["secret"]


async def enable(
    session: AsyncSession, participant: Participant, *, enrolment: str, code: str, secret_key: str, now: datetime
) -> list[str]:
    """Turn two-factor sign-in on once `code` proves the authenticator holds the enrolment's secret; the
    recovery codes, shown this once. `InvalidCode` (401) for a wrong code, nothing stored."""
    if enrolled(participant):
        raise AlreadyEnrolled()
    secret = _enrolment_secret(enrolment, participant, secret_key)
    step = matching_step(secret, code, now)
    if step is None:
        raise InvalidCode()
    participant.totp_secret, participant.totp_enabled_at, participant.totp_last_step = secret, now, step
    codes = await _replace_recovery_codes(session, participant)
    await audit.record(
        session, actor_id=participant.id, action="participant.two_factor_enabled", target_type="participant", target_id=participant.id
    )
    return codes


async def disable(session: AsyncSession, participant: Participant) -> None:
    """Turn two-factor sign-in off (participants only; the caller has checked the password)."""
    if participant.role in PRIVILEGED:
        raise RequiredForRole()
    if not enrolled(participant):
        raise NotEnrolled()
    participant.totp_secret = participant.totp_enabled_at = participant.totp_last_step = None
    await session.execute(delete(RecoveryCode).where(RecoveryCode.participant_id == participant.id))
    await session.flush()
    await audit.record(
        session, actor_id=participant.id, action="participant.two_factor_disabled", target_type="participant", target_id=participant.id
    )


async def regenerate_recovery_codes(session: AsyncSession, participant: Participant, code: str, now: datetime) -> list[str]:
    """New recovery codes for a current authenticator code; the old ones stop working."""
    if not enrolled(participant):
        raise NotEnrolled()
    await check_code(session, participant, code, now)
    codes = await _replace_recovery_codes(session, participant)
    await audit.record(
        session,
        actor_id=participant.id,
        action="participant.recovery_codes_replaced",
        target_type="participant",
        target_id=participant.id,
    )
    return codes


# --- Codes ------------------------------------------------------------------------------------


def normalise_code(code: str) -> str:
    """What a person typed, without spaces or hyphens, lowercased."""
    return "".join(code.split()).replace("-", "").lower()


def matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step (within the allowed drift of `now`) whose code is `code`, or None."""
    typed = normalise_code(code)
    if not (typed.isascii() and typed.isdigit() and len(typed) == 6):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), typed):
            return step
    return None


async def check_code(session: AsyncSession, participant: Participant, code: str, now: datetime) -> None:
    """Accept an authenticator code once: `InvalidCode` if it is wrong, or its time step is not later than
    the last one accepted (a replay, also within the same 30 s)."""
    if participant.totp_secret is None:
        raise InvalidCode()
    step = matching_step(participant.totp_secret, code, now)
    if step is None:
        raise InvalidCode()
    taken = await session.execute(
        update(Participant)
        .where(Participant.id == participant.id)
        .where((Participant.totp_last_step.is_(None)) | (Participant.totp_last_step < step))
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        raise InvalidCode()
    participant.totp_last_step = step


def _recovery_hash(participant_id: uuid.UUID, code: str) -> str:
    # A fast keyed hash is enough: each code carries 80 random bits, so even an offline search at billions of
    # SHA-256 per second would take longer than the code matters, and argon2's cost would add nothing but load.
    # Keyed by the account, so one code's hash says nothing about any other account's.
    return hmac.new(participant_id.bytes, normalise_code(code).encode(), hashlib.sha256).hexdigest()


def new_recovery_code() -> str:
    """Sixteen base32 characters in four groups: `abcd-efgh-ijkl-mnop`."""
    raw = base64.b32encode(secrets.token_bytes(RECOVERY_CODE_BYTES)).decode().lower()
    return "-".join(raw[index : index + 4] for index in range(0, len(raw), 4))


async def _replace_recovery_codes(session: AsyncSession, participant: Participant) -> list[str]:
    await session.execute(delete(RecoveryCode).where(RecoveryCode.participant_id == participant.id))
    codes = [new_recovery_code() for _ in range(RECOVERY_CODES)]
    session.add_all(RecoveryCode(participant_id=participant.id, code_hash=_recovery_hash(participant.id, code)) for code in codes)
    await session.flush()
    return codes


async def use_recovery_code(session: AsyncSession, participant: Participant, code: str, now: datetime) -> None:
    """Accept a recovery code once; `InvalidCode` if it is not one of the account's unused codes."""
    used = await session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.participant_id == participant.id,
            RecoveryCode.code_hash == _recovery_hash(participant.id, code),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if used.rowcount != 1:  # type: ignore[attr-defined]
        raise InvalidCode("That recovery code is wrong or has been used; each works once")
    await audit.record(
        session, actor_id=participant.id, action="participant.recovery_code_used", target_type="participant", target_id=participant.id
    )


async def recovery_codes_left(session: AsyncSession, participant: Participant) -> int:
    return (
        await session.scalar(
            select(func.count())
            .select_from(RecoveryCode)
            .where(RecoveryCode.participant_id == participant.id, RecoveryCode.used_at.is_(None))
        )
        or 0
    )
