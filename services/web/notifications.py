"""Pages: the notification centre, mail preferences, following buttons, and the unsubscribe link of a mail.

Everything works without JavaScript: forms post and redirect back. The one-click unsubscribe of RFC 8058
needs no account: the signed token in the link is the proof, and a forged or used one changes nothing (400).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.accounts.models import Participant
from services.api.deps import ClockDep, SessionDep, SettingsDep, WritingSessionDep
from services.notifications import delivery, service
from services.notifications.models import Follow, Kind, Mode, Target
from services.web.forms import attempt, fields, redirect, safe_next
from services.web.i18n import gettext, lazy_gettext
from services.web.session import Csrf, PageParticipant, Viewer, ViewerDep, get_viewer
from services.web.templating import render

router = APIRouter(include_in_schema=False)

MODE_LABELS = {
    Mode.at_once: lazy_gettext("At once"),
    Mode.daily: lazy_gettext("Daily digest"),
    Mode.weekly: lazy_gettext("Weekly digest"),
    Mode.never: lazy_gettext("Never"),
}
COMMON_ZONES = (
    "UTC",
    "Europe/London",
    "Europe/Paris",
    "Africa/Nairobi",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "America/New_York",
    "America/Sao_Paulo",
)


@router.get("/notifications")
async def centre(request: Request, session: SessionDep, viewer: ViewerDep, participant: PageParticipant):
    items = await service.recent(session, participant.id)
    return render(request, viewer, "notifications.html", {"items": items}, title=gettext("Notifications"))


@router.get("/notifications/{notification_id:int}")
async def open_one(session: WritingSessionDep, clock: ClockDep, viewer: ViewerDep, participant: PageParticipant, notification_id: int):
    """Follow a notification's link: it is marked read on the way."""
    found = await service.read_one(session, participant.id, notification_id, clock.now())
    return RedirectResponse(found.url if found is not None and found.url.startswith("/") else "/notifications", status_code=303)


@router.post("/notifications/read-all")
async def read_all(
    session: WritingSessionDep, _csrf: Csrf, clock: ClockDep, settings: SettingsDep, viewer: ViewerDep, participant: PageParticipant
):
    await service.mark_read(session, participant.id, clock.now())
    return redirect("/notifications", viewer, settings, flash=("ok", gettext("Every notification is marked read.")))


@router.post("/notifications/{notification_id:int}/read")
async def read_one(
    session: WritingSessionDep,
    _csrf: Csrf,
    clock: ClockDep,
    settings: SettingsDep,
    viewer: ViewerDep,
    participant: PageParticipant,
    notification_id: int,
):
    await service.mark_read(session, participant.id, clock.now(), notification_id)
    return redirect(f"/notifications#n{notification_id}", viewer, settings)


async def _preferences_context(session: AsyncSession, participant: Participant, **extra: Any) -> dict[str, Any]:
    found = await service.preferences(session, participant.id)
    return {
        "kinds": [(kind, service.LABELS[kind], found.modes[kind]) for kind in Kind],
        "modes": MODE_LABELS,
        "hour": found.hour,
        "time_zone": found.time_zone,
        "zones": sorted({*COMMON_ZONES, found.time_zone}),
        "bounced_at": participant.email_bounced_at,
        "follows": await service.followed(session, participant.id),
        "errors": {},
        **extra,
    }


@router.get(delivery.PREFERENCES_PATH)
async def preferences_page(request: Request, session: SessionDep, viewer: ViewerDep, participant: PageParticipant):
    context = await _preferences_context(session, participant)
    return render(request, viewer, "notification_settings.html", context, title=gettext("Notification settings"))


@router.post(delivery.PREFERENCES_PATH)
async def save_preferences(
    request: Request, session: WritingSessionDep, _csrf: Csrf, settings: SettingsDep, viewer: ViewerDep, participant: PageParticipant
):
    form = await fields(request)
    errors: dict[str, str] = {}
    chosen: dict[Kind, Mode] = {}
    for kind in Kind:
        value = form.get(f"mode-{kind.value}")
        if value is None:
            continue
        try:
            chosen[kind] = Mode(value)
        except ValueError:
            errors[f"mode-{kind.value}"] = gettext("Choose at once, daily digest, weekly digest or never")
    hour_text, zone_name = form.get("hour", ""), form.get("time_zone", "UTC")
    hour = int(hour_text) if hour_text.isdigit() and int(hour_text) < 24 else None
    if hour is None:
        errors["hour"] = gettext("Choose an hour from 0 to 23")
    if service.zone(zone_name).key != zone_name:
        errors["time_zone"] = gettext("Choose a time zone by its IANA name, such as Europe/Paris")
    if errors:
        context = await _preferences_context(session, participant, errors=errors)
        return render(request, viewer, "notification_settings.html", context, status_code=422, title=gettext("Notification settings"))
    for kind, mode in chosen.items():
        await service.set_mode(session, participant.id, kind, mode)
    assert hour is not None
    await service.set_schedule(session, participant.id, hour, zone_name)
    return redirect(delivery.PREFERENCES_PATH, viewer, settings, flash=("ok", gettext("Your notification settings are saved.")))


@router.post("/follows/{target}/{action}")
async def follow_form(
    request: Request,
    session: WritingSessionDep,
    _csrf: Csrf,
    clock: ClockDep,
    settings: SettingsDep,
    viewer: ViewerDep,
    participant: PageParticipant,
    target: Target,
    action: Literal["follow", "unfollow"],
):
    form = await fields(request)
    back = safe_next(form.get("next"))
    key = form.get("key", "")

    async def act() -> str:
        if action == "follow":
            return await service.follow(session, participant.id, target, key, clock.now())
        return await service.unfollow(session, participant.id, target, key)

    _, error = await attempt(session, act)
    if error is not None:
        raise error
    if action == "follow":
        words = gettext("You follow it now: its news comes to your notifications.")
    else:
        words = gettext("You no longer follow it.")
    return redirect(back, viewer, settings, flash=("ok", words))


async def follow_state(session: AsyncSession, viewer: Viewer, target: Target, stored_key: str) -> dict[str, Any]:
    """What a follow button needs: the public count, and whether the viewer follows."""
    following = viewer.participant is not None and await service.follows(session, viewer.participant.id, target, stored_key)
    return {
        "target": target.value,
        "key": stored_key,
        "count": await service.follower_count(session, target, stored_key),
        "following": following,
    }


async def follow_states(session: AsyncSession, viewer: Viewer, target: Target, stored_keys: Sequence[str]) -> dict[str, dict[str, Any]]:
    """`follow_state` for many things of one kind at once (a list of topics, say), by stored key."""
    counts = await service.follower_counts(session, target, stored_keys)
    mine: set[str] = set()
    if viewer.participant is not None and stored_keys:
        mine = set(
            await session.scalars(
                select(Follow.target_key).where(
                    Follow.participant_id == viewer.participant.id, Follow.target == target, Follow.target_key.in_(list(stored_keys))
                )
            )
        )
    return {key: {"target": target.value, "key": key, "count": counts[key], "following": key in mine} for key in stored_keys}


# --- Unsubscribe ---------------------------------------------------------------------------------

TokenQuery = Annotated[str, Query(max_length=2000)]


@router.get(delivery.UNSUBSCRIBE_PATH)
async def confirm_unsubscribe(request: Request, settings: SettingsDep, viewer: ViewerDep, token: TokenQuery):
    """Opening the link (or a mail scanner prefetching it) changes nothing: it shows a button that posts."""
    _, kinds = delivery.read_token(settings, token)
    labels = [service.LABELS[kind] for kind in sorted(kinds)]
    return render(request, viewer, "unsubscribe.html", {"token": token, "labels": labels, "done": False}, title=gettext("Unsubscribe"))


@router.post(delivery.UNSUBSCRIBE_PATH)
async def unsubscribe(request: Request, session: WritingSessionDep, settings: SettingsDep, token: TokenQuery) -> HTMLResponse:
    """RFC 8058 one-click: the mail client posts `List-Unsubscribe=One-Click` here; the page's button posts the same."""
    _, kinds = await delivery.unsubscribe(session, settings, token)
    viewer = await get_viewer(request, session, settings)
    labels = [service.LABELS[kind] for kind in kinds]
    return render(request, viewer, "unsubscribe.html", {"token": token, "labels": labels, "done": True}, title=gettext("Unsubscribed"))
