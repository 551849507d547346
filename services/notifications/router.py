"""HTTP for notifications, mail preferences, following, and the one-click unsubscribe of RFC 8058."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, Field, field_validator

from services.api.deps import ClockDep, CurrentParticipant, SessionDep, WritingSessionDep
from services.notifications import service
from services.notifications.models import Kind, Mode, Target
from services.web import i18n

router = APIRouter(prefix="/api/v1", tags=["notifications"])


class NotificationOut(BaseModel):
    id: int
    kind: Kind
    title: str
    url: str
    created_at: datetime
    read: bool


class NotificationsOut(BaseModel):
    unread: int
    items: list[NotificationOut]


class PreferencesIn(BaseModel):
    """Any subset of the kinds, each with a mode; the hour (0–23) and IANA time zone of the digests."""

    modes: dict[Kind, Mode] = Field(default_factory=dict)
    digest_hour: int | None = Field(default=None, ge=0, le=23)
    time_zone: str | None = Field(default=None, max_length=64)

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None and service.zone(value).key != value:
            raise ValueError("not a time zone this server knows (an IANA name such as Europe/Paris)")
        return value


class PreferencesOut(BaseModel):
    modes: dict[Kind, Mode]
    digest_hour: int
    time_zone: str
    # When mail to this address last failed for good (the server refused it): notifications are not mailed until it changes.
    email_bounced_at: datetime | None


class FollowIn(BaseModel):
    target: Target
    # A network's slug or id, a norm's id, a topic's slug; nothing for the whole clearing house.
    key: str = Field(default="", max_length=80)


class FollowOut(BaseModel):
    target: Target
    key: str
    followers: int
    following: bool | None = None


def _out(found: service.Preferences, bounced: datetime | None) -> PreferencesOut:
    return PreferencesOut(modes=found.modes, digest_hour=found.hour, time_zone=found.time_zone, email_bounced_at=bounced)


@router.get("/me/notifications", response_model=NotificationsOut, summary="My notifications, newest first")
async def list_notifications(request: Request, session: SessionDep, me: CurrentParticipant) -> NotificationsOut:
    """Titles are written in the language the person chose in the interface, else by `Accept-Language`, else English;
    `kind` is the stable code to act on."""
    items = await service.recent(session, me.id)
    language = i18n.choose(account=me.language, cookie=None, query=None, accept=request.headers.get("accept-language"))
    with i18n.speaking(language):
        shown = [
            NotificationOut(id=n.id, kind=Kind(n.kind), title=n.shown_title, url=n.url, created_at=n.created_at, read=n.read_at is not None)
            for n in items
        ]
    return NotificationsOut(unread=await service.unread_count(session, me.id), items=shown)


@router.post("/me/notifications/{notification_id}/read", status_code=status.HTTP_204_NO_CONTENT, summary="Mark one notification read")
async def read_one(session: WritingSessionDep, clock: ClockDep, me: CurrentParticipant, notification_id: int) -> Response:
    await service.mark_read(session, me.id, clock.now(), notification_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/me/notifications/read-all", status_code=status.HTTP_204_NO_CONTENT, summary="Mark every notification read")
async def read_all(session: WritingSessionDep, clock: ClockDep, me: CurrentParticipant) -> Response:
    await service.mark_read(session, me.id, clock.now())
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/me/notification-preferences", response_model=PreferencesOut, summary="How I hear of each kind of event by mail")
async def get_preferences(session: SessionDep, me: CurrentParticipant) -> PreferencesOut:
    return _out(await service.preferences(session, me.id), me.email_bounced_at)


@router.patch(
    "/me/notification-preferences", response_model=PreferencesOut, summary="Change how I hear of some kinds, or when digests come"
)
async def change_preferences(session: WritingSessionDep, me: CurrentParticipant, body: PreferencesIn) -> PreferencesOut:
    for kind, mode in body.modes.items():
        await service.set_mode(session, me.id, kind, mode)
    if body.digest_hour is not None or body.time_zone is not None:
        current = await service.preferences(session, me.id)
        await service.set_schedule(
            session, me.id, current.hour if body.digest_hour is None else body.digest_hour, body.time_zone or current.time_zone
        )
    return _out(await service.preferences(session, me.id), me.email_bounced_at)


@router.get("/me/follows", response_model=list[FollowIn], summary="What I follow (only I see this)")
async def my_follows(session: SessionDep, me: CurrentParticipant) -> list[FollowIn]:
    return [FollowIn(target=f.target, key=f.target_key) for f in await service.followed(session, me.id)]


@router.post("/me/follows", response_model=FollowOut, summary="Follow a network, a norm, a clearing-house topic or the clearing house")
async def follow(session: WritingSessionDep, clock: ClockDep, me: CurrentParticipant, body: FollowIn) -> FollowOut:
    key = await service.follow(session, me.id, body.target, body.key, clock.now())
    return FollowOut(target=body.target, key=key, followers=await service.follower_count(session, body.target, key), following=True)


@router.delete("/me/follows", response_model=FollowOut, summary="Stop following")
async def unfollow(session: WritingSessionDep, me: CurrentParticipant, body: FollowIn) -> FollowOut:
    key = await service.unfollow(session, me.id, body.target, body.key)
    return FollowOut(target=body.target, key=key, followers=await service.follower_count(session, body.target, key), following=False)


@router.get("/followers", response_model=FollowOut, summary="How many follow something (public; who follows is not)")
async def follower_count(
    session: SessionDep, target: Annotated[Target, Query()], key: Annotated[str, Query(max_length=80)] = ""
) -> FollowOut:
    stored = await service.resolve_target(session, target, key)
    return FollowOut(target=target, key=stored, followers=await service.follower_count(session, target, stored))
