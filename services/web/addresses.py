"""Pages for mailed links: confirming one's address (and asking for a new link), forgetting and resetting a
password, and changing one's address (`/settings/email`, a section the account settings link to)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, EmailStr

from services.accounts import addresses, links, recovery
from services.accounts.passwords import MIN_PASSWORD_LENGTH
from services.accounts.schemas import PasswordReset
from services.api import ratelimit
from services.api.deps import ClockDep, PasswordHashingDep, SessionDep, SettingsDep, WritingSessionDep
from services.kit.errors import DomainError, InvalidInput
from services.kit.ratelimit import TooManyRequests
from services.web import session as web_session
from services.web.forms import FormInvalid, attempt, field_errors, fields, parse, redirect
from services.web.i18n import formatted, gettext
from services.web.session import Csrf, PageParticipant, ViewerDep
from services.web.templating import render

router = APIRouter(include_in_schema=False)


class _Address(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr


# --- Confirming one's address ------------------------------------------------------------


@router.get(addresses.VERIFY_PATH)
async def verify_page(request: Request, session: SessionDep, settings: SettingsDep, clock: ClockDep, viewer: ViewerDep, token: str = ""):
    """The link mailed at sign-up: a button confirms (a GET changes nothing, so a mail scanner opening it spends nothing)."""
    await links.check(session, token, links.LinkPurpose.verify_email, now=clock.now(), secret=settings.signing_key)
    return render(request, viewer, "verify_email.html", {"token": token}, title=gettext("Confirm your address"))


@router.post(addresses.VERIFY_PATH)
async def verify(request: Request, session: WritingSessionDep, _csrf: Csrf, settings: SettingsDep, clock: ClockDep, viewer: ViewerDep):
    form = await fields(request)
    participant = await addresses.verify(session, settings, form.get("token", ""), now=clock.now())
    target = "/" if viewer.participant is not None and viewer.participant.id == participant.id else "/signin"
    return redirect(
        target,
        viewer,
        settings,
        flash=("ok", formatted("Thank you: %(email)s is confirmed. You can now take part.", email=participant.email)),
    )


@router.post(addresses.VERIFY_PATH + "/resend")
async def resend(
    request: Request,
    session: WritingSessionDep,
    _csrf: Csrf,
    settings: SettingsDep,
    clock: ClockDep,
    viewer: ViewerDep,
    participant: PageParticipant,
):
    if participant.email_verified_at is not None:
        return redirect("/settings/email", viewer, settings, flash=("ok", gettext("Your address is already confirmed.")))
    if (wait := await ratelimit.mail_wait(request, "verify", str(participant.id))) is not None:
        raise TooManyRequests(f"A link was mailed a moment ago; you may ask again in {wait} seconds", wait)
    await addresses.resend_verification(session, settings, participant, now=clock.now())
    return redirect(
        "/settings/email",
        viewer,
        settings,
        flash=("ok", formatted("A new link is on its way to %(email)s (valid for 48 hours).", email=participant.email)),
    )


# --- Forgetting and resetting a password ---------------------------------------------------


@router.get("/forgot-password")
async def forgot_page(request: Request, viewer: ViewerDep):
    return render(request, viewer, "forgot_password.html", {"form": {}, "errors": {}}, title=gettext("Forgot your password?"))


@router.post("/forgot-password")
async def forgot(request: Request, session: WritingSessionDep, _csrf: Csrf, settings: SettingsDep, clock: ClockDep, viewer: ViewerDep):
    """The same answer for every address (see recovery.request_reset)."""
    form = await fields(request)
    try:
        body = parse(_Address, {"email": form.get("email", "")})
    except FormInvalid as invalid:
        context = {"form": form, "errors": invalid.errors}
        return render(request, viewer, "forgot_password.html", context, status_code=422, title=gettext("Forgot your password?"))
    if await ratelimit.mail_wait(request, "reset", addresses.normalise_email(body.email)) is None:
        await recovery.request_reset(session, settings, body.email, now=clock.now())
    return redirect("/signin", viewer, settings, flash=("ok", recovery.RESET_REQUESTED))


@router.get(recovery.RESET_PATH)
async def reset_page(request: Request, session: SessionDep, settings: SettingsDep, clock: ClockDep, viewer: ViewerDep, token: str = ""):
    await links.check(session, token, links.LinkPurpose.reset_password, now=clock.now(), secret=settings.signing_key)
    context = {"token": token, "errors": {}, "min_password": MIN_PASSWORD_LENGTH}
    return render(request, viewer, "reset_password.html", context, title=gettext("Choose a new password"))


@router.post(recovery.RESET_PATH)
async def reset(
    request: Request,
    session: WritingSessionDep,
    hashing: PasswordHashingDep,
    _csrf: Csrf,
    settings: SettingsDep,
    clock: ClockDep,
    viewer: ViewerDep,
):
    form = await fields(request)
    token = form.get("token", "")
    try:
        body = parse(PasswordReset, {"token": token, "password": form.get("password", "")})
        _, error = await attempt(session, lambda: recovery.reset(session, hashing, settings, body.token, body.password, now=clock.now()))
        if isinstance(error, InvalidInput):
            raise FormInvalid(field_errors(error))
        if error is not None:
            raise error
    except FormInvalid as invalid:
        context = {"token": token, "errors": invalid.errors, "min_password": MIN_PASSWORD_LENGTH}
        return render(request, viewer, "reset_password.html", context, status_code=422, title=gettext("Choose a new password"))
    response = redirect(
        "/signin", viewer, settings, flash=("ok", gettext("Your password is changed, and you are signed out everywhere. Sign in with it."))
    )
    web_session.sign_out(response, settings)
    return response


# --- One's address: confirmation state, bounces, and a change of address ----------------


def _email_context(participant, form: dict | None = None, errors: dict | None = None) -> dict:
    return {"participant": participant, "form": form or {}, "errors": errors or {}}


@router.get("/settings/email")
async def email_page(request: Request, viewer: ViewerDep, participant: PageParticipant):
    return render(request, viewer, "me_email.html", _email_context(participant), title=gettext("My email address"))


@router.post("/settings/email")
async def change_email(
    request: Request,
    session: WritingSessionDep,
    _csrf: Csrf,
    settings: SettingsDep,
    clock: ClockDep,
    viewer: ViewerDep,
    participant: PageParticipant,
):
    form = await fields(request)
    status_code = 422
    try:
        body = parse(_Address, {"email": form.get("email", "")})
        if (wait := await ratelimit.mail_wait(request, "change", str(participant.id))) is not None:
            raise TooManyRequests(f"Too many changes of address asked for; you may ask again in {wait} seconds", wait)
        _, error = await attempt(session, lambda: addresses.request_change(session, settings, participant, body.email, now=clock.now()))
        if isinstance(error, addresses.EmailTaken):
            status_code = error.status_code
            raise FormInvalid({"email": error.detail})
        if isinstance(error, InvalidInput):
            raise FormInvalid(field_errors(error))
        if error is not None:
            raise error
    except FormInvalid as invalid:
        context = _email_context(participant, form, invalid.errors)
        return render(request, viewer, "me_email.html", context, status_code=status_code, title=gettext("My email address"))
    message = formatted(
        "A link is on its way to %(email)s; your address changes once you open it.", email=addresses.normalise_email(body.email)
    )
    return redirect("/settings/email", viewer, settings, flash=("ok", message))


@router.get(addresses.CONFIRM_CHANGE_PATH)
async def confirm_page(request: Request, session: SessionDep, settings: SettingsDep, clock: ClockDep, viewer: ViewerDep, token: str = ""):
    link = await links.check(session, token, links.LinkPurpose.change_email, now=clock.now(), secret=settings.signing_key)
    return render(request, viewer, "confirm_email.html", {"token": token, "address": link.email}, title=gettext("Confirm your new address"))


@router.post(addresses.CONFIRM_CHANGE_PATH)
async def confirm(request: Request, session: WritingSessionDep, _csrf: Csrf, settings: SettingsDep, clock: ClockDep, viewer: ViewerDep):
    form = await fields(request)
    participant = await addresses.confirm_change(session, settings, form.get("token", ""), now=clock.now())
    return redirect("/settings/email", viewer, settings, flash=("ok", formatted("Your address is now %(email)s.", email=participant.email)))


def link_trouble(exc: DomainError) -> bool:
    """Whether an error page is about a mailed link, and should offer a new one."""
    return isinstance(exc, links.LinkInvalid | links.LinkExpired | links.LinkUsed)
