"""Pages for signing up, in and out, and for one's affiliation."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

from fastapi import APIRouter, Request

from networks import service as networks
from networks.schemas import AffiliationIn
from networks.taxonomy import Taxonomy
from services.accounts import service as accounts
from services.accounts import sessions, twofactor
from services.accounts.passwords import MIN_PASSWORD_LENGTH
from services.accounts.router import CHALLENGE_MINUTES, second_factor
from services.accounts.schemas import Registration
from services.accounts.security import issue_challenge
from services.api import ratelimit
from services.api.deps import ClockDep, PasswordHashingDep, SessionDep, SettingsDep, WritingSessionDep
from services.kit.errors import InvalidInput
from services.web import session as web_session
from services.web.forms import FormInvalid, attempt, field_errors, fields, parse, redirect, safe_next
from services.web.i18n import formatted, gettext
from services.web.session import Csrf, CsrfChecked, PageParticipant, ViewerDep
from services.web.templating import render

router = APIRouter(include_in_schema=False)


def _countries(taxonomy: Taxonomy) -> list:
    return sorted(taxonomy.countries.values(), key=lambda country: country.name)


@router.get("/signup")
async def signup_page(request: Request, viewer: ViewerDep, next: str | None = None):
    return render(
        request,
        viewer,
        "signup.html",
        {"form": {}, "errors": {}, "next": safe_next(next, ""), "min_password": MIN_PASSWORD_LENGTH},
        title=gettext("Sign up"),
    )


@router.post("/signup")
async def signup(
    request: Request,
    session: SessionDep,
    hashing: PasswordHashingDep,
    _csrf: Csrf,
    settings: SettingsDep,
    clock: ClockDep,
    viewer: ViewerDep,
):
    """The same answer for a new address and for one that has an account (see accounts.sign_up): on to the
    sign-in form, where the person signs in with the password they chose."""
    form = await fields(request)
    next_url = safe_next(form.get("next"), "/me/affiliation")
    try:
        body = parse(
            Registration,
            {"email": form.get("email", ""), "password": form.get("password", ""), "display_name": form.get("display_name", "")},
        )
        _, error = await attempt(
            session,
            lambda: accounts.sign_up(
                session, hashing, settings, email=body.email, password=body.password, display_name=body.display_name, now=clock.now()
            ),
        )
        if isinstance(error, InvalidInput):
            raise FormInvalid(field_errors(error))
        if error is not None:
            raise error
    except FormInvalid as invalid:
        context = {
            "form": {**form, "password": ""},
            "errors": invalid.errors,
            "next": form.get("next", ""),
            "min_password": MIN_PASSWORD_LENGTH,
        }
        return render(request, viewer, "signup.html", context, status_code=422, title=gettext("Sign up"))
    return redirect(f"/signin?next={quote(next_url)}", viewer, settings, flash=("ok", accounts.SIGN_UP_RECEIVED))


@router.get("/signin")
async def signin_page(request: Request, viewer: ViewerDep, next: str | None = None):
    return render(request, viewer, "signin.html", {"form": {}, "errors": {}, "next": safe_next(next, "")}, title=gettext("Sign in"))


@router.post("/signin", dependencies=[CsrfChecked])
async def signin(request: Request, session: SessionDep, settings: SettingsDep, viewer: ViewerDep):
    form = await fields(request)
    participant, error = await attempt(
        session, lambda: ratelimit.authenticate(request, session, form.get("email", ""), form.get("password", ""))
    )
    if error is not None and not isinstance(error, accounts.InvalidCredentials):
        raise error  # too many attempts (429) or a full hashing queue (503): a page of its own, with Retry-After
    if error is not None:
        context = {"form": {"email": form.get("email", "")}, "errors": {"_": error.detail}, "next": form.get("next", "")}
        return render(request, viewer, "signin.html", context, status_code=401, title=gettext("Sign in"))
    assert participant is not None  # `attempt` returns the result when there is no error
    if twofactor.enrolled(participant):
        challenge, _ = issue_challenge(
            participant.id, participant.token_version, settings.signing_key, timedelta(minutes=CHALLENGE_MINUTES)
        )
        context = {"challenge": challenge, "next": safe_next(form.get("next"), ""), "errors": {}, "form": {}}
        return render(request, viewer, "signin_code.html", context, title=gettext("Two-factor sign-in"))
    greeting = formatted("Signed in as %(name)s.", name=participant.display_name)
    if participant.email_verified_at is None:
        # Asked at every sign-in until the address is proven (accounts from before verification existed, too).
        greeting += " " + formatted(
            "Confirm %(email)s to take part: open the link we mailed, or ask for a new one on 'My email address'.", email=participant.email
        )
    response = redirect(safe_next(form.get("next"), "/"), viewer, settings, flash=("ok", greeting))
    await web_session.sign_in(request, session, response, participant, settings)
    return response


@router.post("/signin/code", dependencies=[CsrfChecked])
async def signin_code(request: Request, session: WritingSessionDep, settings: SettingsDep, viewer: ViewerDep):
    """The second step of a sign-in with two-factor on: a code from the authenticator app or a recovery code."""
    form = await fields(request)
    code, recovery, challenge = form.get("code", "").strip(), form.get("recovery_code", "").strip(), form.get("challenge", "")
    context: dict[str, object] = {
        "challenge": form.get("challenge", ""),
        "next": safe_next(form.get("next"), ""),
        "form": {"code": code, "recovery_code": recovery},
    }
    try:
        if code and recovery:
            raise FormInvalid({"code": gettext("Enter either a code from your app or a recovery code, not both")})
        if not (code or recovery):
            raise FormInvalid({"code": gettext("Enter the six-digit code from your authenticator app")})
        if len(code) > 40 or len(recovery) > 40:
            raise FormInvalid({"recovery_code" if recovery else "code": gettext("That is too long to be a code")})
        participant, error = await attempt(
            session, lambda: second_factor(request, session, settings, challenge, code or None, recovery or None)
        )
        if isinstance(error, accounts.InvalidToken):
            return redirect("/signin", viewer, settings, flash=("error", error.detail))
        if isinstance(error, twofactor.InvalidCode):
            raise FormInvalid({"recovery_code" if recovery else "code": error.detail})
        if error is not None:
            raise error  # 429 and the like: a page of its own
    except FormInvalid as invalid:
        context["errors"] = invalid.errors
        return render(request, viewer, "signin_code.html", context, status_code=401, title=gettext("Two-factor sign-in"))
    assert participant is not None  # as above
    flash = f"Signed in as {participant.display_name}."
    if recovery:
        flash += " That recovery code is now used up; make new ones in your settings if few are left."
    response = redirect(safe_next(form.get("next"), "/"), viewer, settings, flash=("ok", flash))
    await web_session.sign_in(request, session, response, participant, settings, two_factor=True)
    return response


@router.post("/signout")
async def signout(session: WritingSessionDep, _csrf: Csrf, settings: SettingsDep, viewer: ViewerDep):
    if viewer.participant is not None and viewer.account_session is not None:
        # This browser only; settings offer signing out everywhere.
        await sessions.end(session, sessions.SignedIn(viewer.participant, viewer.account_session))
    response = redirect("/", viewer, settings, flash=("ok", gettext("You are signed out.")))
    web_session.sign_out(response, settings)
    # Pages of the live editor may be cached for offline use; a shared computer should not keep them.
    response.headers["Clear-Site-Data"] = '"cache"'
    return response


async def _affiliation_context(request: Request, session, participant, form: dict | None = None, errors: dict | None = None) -> dict:
    taxonomy: Taxonomy = request.app.state.taxonomy
    current = await networks.current_affiliation(session, participant.id)
    history = await networks.affiliation_history(session, participant.id)
    if form is None:
        form = {
            "stakeholder_group": current.stakeholder_group if current else "",
            "country": current.country if current else "",
            "organisation": (current.organisation or "") if current else "",
        }
    return {"current": current, "history": history, "countries": _countries(taxonomy), "form": form, "errors": errors or {}}


@router.get("/me/affiliation")
async def affiliation_page(request: Request, session: SessionDep, viewer: ViewerDep, participant: PageParticipant, next: str | None = None):
    context = await _affiliation_context(request, session, participant) | {"next": safe_next(next, "")}
    return render(request, viewer, "affiliation.html", context, title=gettext("My affiliation"))


@router.post("/me/affiliation")
async def set_affiliation(
    request: Request, session: WritingSessionDep, _csrf: Csrf, settings: SettingsDep, viewer: ViewerDep, participant: PageParticipant
):
    form = await fields(request)
    taxonomy: Taxonomy = request.app.state.taxonomy
    try:
        body = parse(
            AffiliationIn,
            {
                "stakeholder_group": form.get("stakeholder_group", ""),
                "country": form.get("country", ""),
                "organisation": form.get("organisation") or None,
            },
        )
        _, error = await attempt(
            session,
            lambda: networks.set_affiliation(
                session,
                taxonomy,
                participant.id,
                stakeholder_group=body.stakeholder_group,
                country=body.country,
                organisation=body.organisation,
            ),
        )
        if error is not None:
            raise FormInvalid(field_errors(error))
    except FormInvalid as invalid:
        context = await _affiliation_context(request, session, participant, form, invalid.errors)
        context["next"] = safe_next(form.get("next"), "")
        return render(request, viewer, "affiliation.html", context, status_code=422, title=gettext("My affiliation"))
    return redirect(safe_next(form.get("next"), "/me/affiliation"), viewer, settings, flash=("ok", gettext("Your affiliation is saved.")))
