"""API: proving an address, resetting a password, changing one's address (mailed links)."""

from __future__ import annotations

from fastapi import APIRouter, Request, status

from services.accounts import addresses, recovery
from services.accounts.schemas import Accepted, EmailChange, ForgotPassword, LinkToken, ParticipantOut, PasswordReset
from services.api import ratelimit
from services.api.deps import ClockDep, CurrentParticipant, PasswordHashingDep, SettingsDep, WritingSessionDep
from services.kit.ratelimit import TooManyRequests

router = APIRouter(prefix="/api/v1", tags=["accounts"])

LINK_ERRORS: dict[int | str, dict[str, str]] = {
    400: {"description": "The link's token is not valid (`link_invalid`): cut short or altered"},
    410: {"description": "The link has expired (`link_expired`), or was used or replaced by a newer one (`link_used`)"},
}
RESEND_SENT = "A new link is on its way to your address (valid for 48 hours)."
CHANGE_SENT = "A link is on its way to the new address; your address changes once you open it. Your current address has been told."


@router.post("/auth/verify-email", response_model=ParticipantOut, responses=LINK_ERRORS)
async def verify_email(session: WritingSessionDep, settings: SettingsDep, clock: ClockDep, body: LinkToken):
    """Prove an address with the token of the link mailed to it (single use, valid 48 h)."""
    return await addresses.verify(session, settings, body.token, now=clock.now())


@router.post(
    "/auth/verify-email/resend",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    responses={409: {"description": "The address is already proven"}, 429: {"description": "Too many mails asked for; wait"}},
)
async def resend_verification(
    request: Request, session: WritingSessionDep, participant: CurrentParticipant, settings: SettingsDep, clock: ClockDep
):
    """Mail a new verification link to the signed-in account's address (at most `COGOV_RATE_LIMIT_MAIL`)."""
    if participant.email_verified_at is not None:
        raise addresses.AlreadyVerified()
    if (wait := await ratelimit.mail_wait(request, "verify", str(participant.id))) is not None:
        raise TooManyRequests(f"A link was mailed a moment ago; you may ask again in {wait} seconds", wait)
    await addresses.resend_verification(session, settings, participant, now=clock.now())
    return Accepted(detail=RESEND_SENT)


@router.post("/auth/forgot-password", status_code=status.HTTP_202_ACCEPTED, response_model=Accepted)
async def forgot_password(request: Request, session: WritingSessionDep, settings: SettingsDep, clock: ClockDep, body: ForgotPassword):
    """Mail a link to choose a new password (single use, 1 h; a newer link voids it). The answer is the same
    whether or not the address has an account."""
    if await ratelimit.mail_wait(request, "reset", addresses.normalise_email(body.email)) is None:
        await recovery.request_reset(session, settings, body.email, now=clock.now())
    return Accepted(detail=recovery.RESET_REQUESTED)


@router.post("/auth/reset-password", status_code=status.HTTP_204_NO_CONTENT, responses=LINK_ERRORS)
async def reset_password(
    session: WritingSessionDep, hashing: PasswordHashingDep, settings: SettingsDep, clock: ClockDep, body: PasswordReset
):
    """Set a new password with a reset link's token; every token and session of the account is signed out."""
    await recovery.reset(session, hashing, settings, body.token, body.password, now=clock.now())


@router.put(
    "/me/email",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    responses={409: {"description": "Another account uses this address (`email_taken`); nothing is mailed"}},
)
async def change_email(
    request: Request, session: WritingSessionDep, participant: CurrentParticipant, settings: SettingsDep, clock: ClockDep, body: EmailChange
):
    """Ask to use another address: a link goes to it, the current address is told, and the address changes
    once the link is opened (`POST /auth/confirm-email`)."""
    if (wait := await ratelimit.mail_wait(request, "change", str(participant.id))) is not None:
        raise TooManyRequests(f"Too many changes of address asked for; you may ask again in {wait} seconds", wait)
    await addresses.request_change(session, settings, participant, body.email, now=clock.now())
    return Accepted(detail=CHANGE_SENT)


@router.post(
    "/auth/confirm-email",
    response_model=ParticipantOut,
    responses={**LINK_ERRORS, 409: {"description": "Another account took the address meanwhile"}},
)
async def confirm_email(session: WritingSessionDep, settings: SettingsDep, clock: ClockDep, body: LinkToken):
    """Replace the account's address with the new one, proven by the token of the link mailed to it."""
    return await addresses.confirm_change(session, settings, body.token, now=clock.now())
