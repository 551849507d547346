"""Account settings pages: name, password, sessions, two-factor sign-in, one's data and deleting the account.

They call the same services as `/api/v1/me/...`; every form keeps what was typed (passwords excepted) and
shows its errors beside the field.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse
from sqlalchemy.ext.asyncio import AsyncSession

from services.accounts import personal_data, sessions, twofactor
from services.accounts import service as accounts
from services.accounts.models import Participant
from services.accounts.passwords import MIN_PASSWORD_LENGTH
from services.accounts.schemas import PasswordChange, ProfileChange
from services.api import ratelimit
from services.api.deps import PasswordHashingDep, SessionDep, SettingsDep, WritingSessionDep
from services.web import i18n
from services.web import session as web_session
from services.web.forms import FormInvalid, attempt, field_errors, fields, parse, redirect, safe_next
from services.web.i18n import formatted, gettext
from services.web.session import Csrf, PageParticipant, Viewer, ViewerDep
from services.web.templating import render

router = APIRouter(include_in_schema=False)

# The longest code a person could mean to type: six digits, or a recovery code with its hyphens and spaces.
CODE_LENGTH = 40


def _signed_in(viewer: Viewer, participant: Participant) -> sessions.SignedIn:
    assert viewer.account_session is not None  # PageParticipant means the cookie named a live session
    return sessions.SignedIn(participant, viewer.account_session)


async def _settings_context(session: AsyncSession, viewer: Viewer, participant: Participant, **forms: Any) -> dict[str, Any]:
    rows = await sessions.active(session, participant)
    current = viewer.account_session.id if viewer.account_session else None
    return {
        "sessions": [{"row": row, "current": row.id == current} for row in rows],
        "two_factor_on": twofactor.enrolled(participant),
        "recovery_left": await twofactor.recovery_codes_left(session, participant) if twofactor.enrolled(participant) else 0,
        "min_password": MIN_PASSWORD_LENGTH,
        "name_form": {"display_name": participant.display_name},
        "name_errors": {},
        "password_errors": {},
        **forms,
    }


@router.get("/me")
async def me() -> RedirectResponse:
    return RedirectResponse("/settings", status_code=303)


@router.get("/settings")
async def settings_page(request: Request, session: SessionDep, viewer: ViewerDep, participant: PageParticipant):
    context = await _settings_context(session, viewer, participant)
    return render(request, viewer, "settings.html", context, title=gettext("Account settings"))


@router.post("/settings/name")
async def change_name(
    request: Request, session: WritingSessionDep, _csrf: Csrf, settings: SettingsDep, viewer: ViewerDep, participant: PageParticipant
):
    form = await fields(request)
    try:
        body = parse(ProfileChange, {"display_name": form.get("display_name", "")})
        _, error = await attempt(session, lambda: accounts.rename(session, participant, body.display_name))
        if error is not None:
            raise FormInvalid(field_errors(error))
    except FormInvalid as invalid:
        context = await _settings_context(
            session, viewer, participant, name_form={"display_name": form.get("display_name", "")}, name_errors=invalid.errors
        )
        return render(request, viewer, "settings.html", context, status_code=422, title=gettext("Account settings"))
    return redirect("/settings", viewer, settings, flash=("ok", gettext("Your name is saved.")))


@router.post("/settings/password")
async def change_password(
    request: Request,
    session: WritingSessionDep,
    _csrf: Csrf,
    settings: SettingsDep,
    hashing: PasswordHashingDep,
    viewer: ViewerDep,
    participant: PageParticipant,
):
    form = await fields(request)
    signed_in = _signed_in(viewer, participant)
    try:
        body = parse(PasswordChange, {"current_password": form.get("current_password", ""), "new_password": form.get("new_password", "")})

        async def change() -> None:
            await ratelimit.guarded(
                request, participant.email, lambda: accounts.check_password(hashing, participant, body.current_password)
            )
            await accounts.change_password(session, hashing, participant, body.new_password, keep=signed_in.session)

        _, error = await attempt(session, change)
        if error is not None and error.status_code == 429:
            raise error  # too many wrong passwords: a page of its own, with Retry-After
        if error is not None:
            raise FormInvalid(field_errors(error))
    except FormInvalid as invalid:
        context = await _settings_context(session, viewer, participant, password_errors=invalid.errors)
        return render(request, viewer, "settings.html", context, status_code=422, title=gettext("Account settings"))
    return redirect("/settings", viewer, settings, flash=("ok", gettext("Your password is changed; every other session is signed out.")))


@router.post("/settings/sessions/{session_id}/revoke")
async def revoke_session(
    session: WritingSessionDep, session_id: uuid.UUID, _csrf: Csrf, settings: SettingsDep, viewer: ViewerDep, participant: PageParticipant
):
    _, error = await attempt(session, lambda: sessions.revoke(session, participant, session_id))
    flash = ("error", error.detail) if error is not None else ("ok", "That session is signed out.")
    return redirect("/settings#sessions", viewer, settings, flash=flash)


@router.post("/settings/sign-out-everywhere")
async def sign_out_everywhere(
    session: WritingSessionDep, _csrf: Csrf, settings: SettingsDep, viewer: ViewerDep, participant: PageParticipant
):
    await accounts.logout(session, participant)
    response = redirect("/signin", viewer, settings, flash=("ok", gettext("You are signed out everywhere, here too.")))
    web_session.sign_out(response, settings)
    return response


@router.get("/settings/export")
async def export(session: SessionDep, viewer: ViewerDep, participant: PageParticipant) -> JSONResponse:
    data = await personal_data.export(session, participant)
    return JSONResponse(data, headers={"Content-Disposition": 'attachment; filename="cogov-my-data.json"', "Cache-Control": "no-store"})


# --- Deleting the account ---------------------------------------------------------------------


@router.get("/settings/delete")
async def delete_page(request: Request, viewer: ViewerDep, participant: PageParticipant):
    context = {"errors": {}, "pseudonym": personal_data.pseudonym(participant.id)}
    return render(request, viewer, "settings_delete.html", context, title=gettext("Delete your account"))


@router.post("/settings/delete")
async def delete_account(
    request: Request,
    session: WritingSessionDep,
    _csrf: Csrf,
    settings: SettingsDep,
    hashing: PasswordHashingDep,
    viewer: ViewerDep,
    participant: PageParticipant,
):
    form = await fields(request)
    password = form.get("password", "")
    pseudonym = personal_data.pseudonym(participant.id)
    try:
        if not password or len(password) > 256:
            raise FormInvalid({"password": gettext("Enter your password to confirm")})

        async def delete() -> str:
            await ratelimit.guarded(
                request, participant.email, lambda: accounts.check_password(hashing, participant, password, field="password")
            )
            return await personal_data.delete_account(session, request.app.state.taxonomy, participant, request.app.state.clock.now())

        _, error = await attempt(session, delete)
        if isinstance(error, accounts.WrongPassword):
            raise FormInvalid(field_errors(error))
        if error is not None and error.status_code == 429:
            raise error
        if error is not None:
            raise FormInvalid({"_": error.detail})
    except FormInvalid as invalid:
        context = {"errors": invalid.errors, "pseudonym": pseudonym}
        return render(request, viewer, "settings_delete.html", context, status_code=422, title=gettext("Delete your account"))
    response = redirect(
        "/",
        viewer,
        settings,
        flash=("ok", formatted("Your account is deleted. Your public acts now show “%(pseudonym)s”.", pseudonym=pseudonym)),
    )
    web_session.sign_out(response, settings)
    return response


# --- Two-factor sign-in -----------------------------------------------------------------------


async def _two_factor_context(request: Request, session: AsyncSession, participant: Participant, settings: Any, **extra: Any) -> dict:
    context: dict[str, Any] = {
        "enrolled": twofactor.enrolled(participant),
        "required": participant.role in twofactor.PRIVILEGED,
        "errors": {},
        "form": {},
        "recovery_codes": None,
        "next": safe_next(request.query_params.get("next"), ""),
    }
    if context["enrolled"]:
        context["recovery_left"] = await twofactor.recovery_codes_left(session, participant)
    else:
        context["setup"] = twofactor.new_enrolment(participant, settings.signing_key, request.app.state.clock.now())
    return {**context, **extra}


@router.get("/settings/two-factor")
async def two_factor_page(request: Request, session: SessionDep, settings: SettingsDep, viewer: ViewerDep, participant: PageParticipant):
    context = await _two_factor_context(request, session, participant, settings)
    return render(request, viewer, "settings_two_factor.html", context, title=gettext("Two-factor sign-in"))


@router.post("/settings/two-factor")
async def two_factor_enable(
    request: Request, session: WritingSessionDep, _csrf: Csrf, settings: SettingsDep, viewer: ViewerDep, participant: PageParticipant
):
    form = await fields(request)
    signed_in = _signed_in(viewer, participant)
    code, enrolment = form.get("code", "").strip()[:CODE_LENGTH], form.get("enrolment", "")[:2000]

    async def enable() -> list[str]:
        codes = await twofactor.enable(
            session, participant, enrolment=enrolment, code=code, secret_key=settings.signing_key, now=request.app.state.clock.now()
        )
        await sessions.mark_two_factor(session, signed_in.session)
        return codes

    codes, error = await attempt(session, enable)
    if isinstance(error, twofactor.EnrolmentExpired | twofactor.AlreadyEnrolled):
        return redirect("/settings/two-factor", viewer, settings, flash=("error", error.detail))
    if error is not None:
        # The same secret again, so the app the person just set up keeps working.
        setup = twofactor.resume_enrolment(enrolment, participant, settings.signing_key)
        context = await _two_factor_context(
            request, session, participant, settings, setup=setup, errors={"code": error.detail}, form={"code": code}
        )
        return render(request, viewer, "settings_two_factor.html", context, status_code=422, title=gettext("Two-factor sign-in"))
    context = await _two_factor_context(request, session, participant, settings, recovery_codes=codes, next=safe_next(form.get("next"), ""))
    return render(request, viewer, "settings_two_factor.html", context, title=gettext("Two-factor sign-in"))


@router.post("/settings/two-factor/recovery-codes")
async def two_factor_recovery_codes(
    request: Request, session: WritingSessionDep, _csrf: Csrf, settings: SettingsDep, viewer: ViewerDep, participant: PageParticipant
):
    form = await fields(request)
    code = form.get("code", "").strip()[:CODE_LENGTH]
    now = request.app.state.clock.now()
    codes, error = await attempt(
        session,
        lambda: ratelimit.guarded(request, participant.email, lambda: twofactor.regenerate_recovery_codes(session, participant, code, now)),
    )
    if error is not None and error.status_code == 429:
        raise error
    extra: dict[str, Any] = {"recovery_codes": codes} if error is None else {"errors": {"regenerate_code": error.detail}}
    context = await _two_factor_context(request, session, participant, settings, **extra)
    return render(
        request, viewer, "settings_two_factor.html", context, status_code=200 if error is None else 422, title=gettext("Two-factor sign-in")
    )


@router.post("/settings/two-factor/disable")
async def two_factor_disable(
    request: Request,
    session: WritingSessionDep,
    _csrf: Csrf,
    settings: SettingsDep,
    hashing: PasswordHashingDep,
    viewer: ViewerDep,
    participant: PageParticipant,
):
    form = await fields(request)
    password = form.get("password", "")[:256]
    if not password:
        context = await _two_factor_context(request, session, participant, settings, errors={"password": "Enter your password to confirm"})
        return render(request, viewer, "settings_two_factor.html", context, status_code=422, title=gettext("Two-factor sign-in"))

    async def disable() -> None:
        await ratelimit.guarded(
            request, participant.email, lambda: accounts.check_password(hashing, participant, password, field="password")
        )
        await twofactor.disable(session, participant)

    _, error = await attempt(session, disable)
    if error is not None and error.status_code == 429:
        raise error
    if error is not None:
        context = await _two_factor_context(request, session, participant, settings, errors={"password": error.detail})
        return render(request, viewer, "settings_two_factor.html", context, status_code=422, title=gettext("Two-factor sign-in"))
    return redirect("/settings", viewer, settings, flash=("ok", gettext("Two-factor sign-in is off.")))


@router.post("/language")
async def choose_language(request: Request, session: WritingSessionDep, _csrf: Csrf, settings: SettingsDep, viewer: ViewerDep):
    """The switch in the header: answer in the chosen language from now on (a cookie, and the account when signed
    in), back on the page it was chosen on. An unknown language changes nothing."""
    form = await fields(request)
    back = safe_next(form.get("next"), "/")
    chosen = i18n.supported(form.get("lang"))
    response = redirect(back, viewer, settings)
    if chosen is None:
        return response
    if viewer.participant is not None:
        viewer.participant.language = chosen
        session.add(viewer.participant)
    response.set_cookie(
        i18n.LANGUAGE_COOKIE, chosen, max_age=365 * 24 * 3600, httponly=True, samesite="lax", secure=settings.cookies_secure, path="/"
    )
    return response
