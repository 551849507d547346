"""Browser sessions for the pages: a signed-in cookie, CSRF tokens and one-shot flash messages.

The session cookie holds the same kind of access token the API issues as a bearer token (HttpOnly,
SameSite=Lax), naming its own account session (accounts/sessions.py): signing out ends that session,
and signing out everywhere ends every cookie and bearer token alike. Every form post carries a CSRF token: an HMAC of a random per-browser
cookie under the server's key (the signed double-submit pattern); a script sends it in the
`X-CSRF-Token` header instead. Pages never read the bearer header, and the API never reads these
cookies, so neither can be used to forge requests to the other.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, TypeVar
from urllib.parse import unquote

from fastapi import Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile

from services.accounts import service as accounts
from services.accounts import sessions
from services.accounts.models import AccountSession, Participant
from services.api.deps import SessionDep, SettingsDep
from services.kit.errors import Forbidden, Unauthorized
from services.kit.origins import trusted_origin
from services.notifications import service as notifications
from services.settings import Settings
from services.web import i18n

_R = TypeVar("_R", bound=Response)

SESSION_COOKIE = "cogov_session"
CSRF_COOKIE = "cogov_csrf"
FLASH_COOKIE = "cogov_flash"
ZONE_COOKIE = "cogov_zone"  # the reader's IANA time zone, as their browser reports it (static/zone.js)
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class CsrfRefused(Forbidden):
    """The form's security token is missing or stale: reload the page and send it again."""

    code = "csrf_refused"


class SignInRequired(Unauthorized):
    """Sign in to do this."""

    code = "sign_in_required"


def _secure(settings: Settings) -> bool:
    return settings.cookies_secure


def _mac(settings: Settings, purpose: str, value: str) -> str:
    digest = hmac.new(settings.signing_key.encode(), f"{purpose}:{value}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


@dataclass
class Viewer:
    """Who is looking at a page, and the browser state the page needs (CSRF token, flash)."""

    participant: Participant | None
    csrf_seed: str
    csrf_seed_is_new: bool
    csrf_token: str
    flash: dict | None
    clear_session: bool = False
    zone_name: str | None = None
    # The account session of this browser's cookie, when signed in.
    account_session: AccountSession | None = None
    # Unread notifications, shown beside the header's link to the notification centre.
    unread: int = 0
    # The interface language this request is answered in (services/web/i18n.py).
    language: str = i18n.DEFAULT

    @property
    def signed_in(self) -> bool:
        return self.participant is not None


def _read_flash(request: Request, settings: Settings) -> dict | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw or "." not in raw:
        return None
    body, mac = raw.rsplit(".", 1)
    if not hmac.compare_digest(mac, _mac(settings, "flash", body)):
        return None
    try:
        flash = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except ValueError:
        return None
    if not isinstance(flash, dict) or flash.get("kind") not in ("ok", "error") or not isinstance(flash.get("text"), str):
        return None
    fix = flash.get("fix")
    if fix is not None and not (isinstance(fix, list) and len(fix) == 2 and all(isinstance(part, str) for part in fix)):
        return None
    return flash


async def get_viewer(request: Request, session: SessionDep, settings: SettingsDep) -> Viewer:
    signed_in = None
    clear_session = False
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        try:
            signed_in = await sessions.resolve(session, token, settings.signing_key)
        except accounts.InvalidToken:
            clear_session = True  # expired or revoked: drop it rather than send it forever
    participant = signed_in.participant if signed_in else None
    language = i18n.choose(
        account=participant.language if participant is not None else None,
        cookie=request.cookies.get(i18n.LANGUAGE_COOKIE),
        query=request.query_params.get("lang"),
        accept=request.headers.get("accept-language"),
    )
    i18n.activate(language)
    seed = request.cookies.get(CSRF_COOKIE) or ""
    is_new = not (16 <= len(seed) <= 64 and seed.isascii())
    if is_new:
        seed = secrets.token_urlsafe(24)
    unread = await notifications.unread_count(session, signed_in.participant.id) if signed_in else 0
    return Viewer(
        unread=unread,
        participant=signed_in.participant if signed_in else None,
        account_session=signed_in.session if signed_in else None,
        csrf_seed=seed,
        csrf_seed_is_new=is_new,
        csrf_token=_mac(settings, "csrf", seed),
        flash=_read_flash(request, settings),
        clear_session=clear_session,
        zone_name=unquote(request.cookies.get(ZONE_COOKIE, "")) or None,
        language=language,
    )


ViewerDep = Annotated[Viewer, Depends(get_viewer)]


async def require_csrf(request: Request, viewer: ViewerDep, settings: SettingsDep) -> None:
    """Refuse a state-changing request whose token does not match this browser's CSRF cookie."""
    sent: str | UploadFile | None = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        sent = (await request.form()).get(CSRF_FIELD)
    if viewer.csrf_seed_is_new or not isinstance(sent, str) or not hmac.compare_digest(sent, viewer.csrf_token):
        raise CsrfRefused()
    origin = request.headers.get("origin")
    # Defence in depth: a browser names the page a post came from; it must be ours. ("null" comes from
    # privacy-preserving contexts; the token above already proved the post came from our page.)
    if origin and origin != "null":
        host = request.headers.get("host")
        if not trusted_origin(origin, settings, addressed=f"{request.url.scheme}://{host}" if host else None):
            raise CsrfRefused("This form was sent from another site; open the page here and send it again")


CsrfChecked = Depends(require_csrf)
# As a parameter, after a writing session, so SQLite's write lock comes before the first read.
Csrf = Annotated[None, Depends(require_csrf)]


async def require_participant(viewer: ViewerDep) -> Participant:
    if viewer.participant is None:
        raise SignInRequired()
    return viewer.participant


PageParticipant = Annotated[Participant, Depends(require_participant)]


def finish(response: _R, viewer: Viewer, settings: Settings, *, keep_flash: bool = False) -> _R:
    """Set or clear this browser's cookies on a page's response."""
    secure = _secure(settings)
    if viewer.csrf_seed_is_new:
        response.set_cookie(CSRF_COOKIE, viewer.csrf_seed, httponly=True, samesite="lax", secure=secure, path="/")
    if viewer.flash is not None and not keep_flash:
        response.delete_cookie(FLASH_COOKIE, path="/", secure=secure, httponly=True, samesite="lax")
    if viewer.clear_session:
        response.delete_cookie(SESSION_COOKIE, path="/", secure=secure, httponly=True, samesite="lax")
    response.headers.setdefault("Cache-Control", "no-store")
    # The same address answers in the language of the cookie or of Accept-Language.
    response.headers["Vary"] = ", ".join(filter(None, (response.headers.get("vary"), "Accept-Language, Cookie")))
    return response


def set_flash(response: Response, settings: Settings, kind: str, text: str, fix: tuple[str, str] | None = None) -> None:
    """A one-shot message for the next page; `fix` is a link (address, words) to where the person can put it right."""
    message: dict = {"kind": kind, "text": str(text)[:500]}
    if fix is not None:
        message["fix"] = list(fix)
    body = base64.urlsafe_b64encode(json.dumps(message).encode()).decode().rstrip("=")
    response.set_cookie(
        FLASH_COOKIE, f"{body}.{_mac(settings, 'flash', body)}", httponly=True, samesite="lax", secure=_secure(settings), path="/"
    )


async def sign_in(
    request: Request, db: AsyncSession, response: Response, participant: Participant, settings: Settings, *, two_factor: bool = False
) -> None:
    """Start a browser session: a fresh session cookie and a fresh CSRF seed on the response (no fixation
    across sign-ins)."""
    lifetime = timedelta(minutes=settings.access_token_minutes)
    token, _expires_at = await sessions.start(
        db,
        participant,
        kind=sessions.SessionKind.browser,
        secret=settings.signing_key,
        lifetime=lifetime,
        user_agent=request.headers.get("user-agent", ""),
        address=request.client.host if request.client else "",
        two_factor=two_factor,
    )
    secure = _secure(settings)
    response.set_cookie(
        SESSION_COOKIE, token, max_age=int(lifetime.total_seconds()), httponly=True, samesite="lax", secure=secure, path="/"
    )
    response.set_cookie(CSRF_COOKIE, secrets.token_urlsafe(24), httponly=True, samesite="lax", secure=secure, path="/")


def sign_out(response: Response, settings: Settings) -> None:
    secure = _secure(settings)
    response.delete_cookie(SESSION_COOKIE, path="/", secure=secure, httponly=True, samesite="lax")
    response.set_cookie(CSRF_COOKIE, secrets.token_urlsafe(24), httponly=True, samesite="lax", secure=secure, path="/")
