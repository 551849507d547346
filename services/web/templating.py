"""Jinja2 rendering for the pages, and the addresses of static assets (cache-busted)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader
from markupsafe import Markup

from networks import domains
from networks.membership import CLEARING_HOUSE_ROLES
from services.settings import Settings
from services.web import i18n
from services.web.session import CSRF_FIELD, Viewer, finish

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"
BUILD_DIR = STATIC_DIR / "build"
MANIFEST = BUILD_DIR / "manifest.json"

templates = Jinja2Templates(
    env=Environment(loader=FileSystemLoader(WEB_DIR / "templates"), autoescape=True, extensions=["jinja2.ext.i18n"])
)
# The request's language comes from a context variable (i18n.activate), so one environment serves every
# request at once; newstyle: `_("… %(name)s", name=…)` fills and escapes its placeholders.
templates.env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]


@cache
def static_version(name: str) -> str:
    """The first 12 hex digits of the SHA-256 of a file under /static (OSError if there is none)."""
    return hashlib.sha256((STATIC_DIR / name).read_bytes()).hexdigest()[:12]


def static_url(name: str) -> str:
    """`/static/NAME?v=HASH`, so browsers may cache it for as long as it does not change."""
    return f"/static/{name}?v={static_version(name)}"


def bundle() -> dict[str, str] | None:
    """The built editor's files by role (`editor.js`, `automerge.wasm`, …) as URLs; None until `make` built them."""
    try:
        manifest = json.loads(MANIFEST.read_text())
    except (OSError, ValueError):
        return None
    return {role: f"/static/build/{name}" for role, name in manifest.items()}


def _when(value: datetime | None) -> str:
    if value is None:
        return ""
    if i18n.current().code != "en":
        return f"{i18n.datetime_text(value, UTC, form='short')} UTC"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def reader_zone(name: str | None) -> ZoneInfo:
    """The reader's time zone by its IANA name (as their browser reports it, see zone.js); UTC when unknown."""
    if name and len(name) <= 64 and name.isascii():
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return ZoneInfo("UTC")


def in_words(value: datetime | str, zone: ZoneInfo) -> str:
    """A moment as a person reads it, in their zone: "Tuesday 8 December 2026 at 08:54 (Europe/Paris)"."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    local = moment.astimezone(zone)
    if i18n.current().code != "en":
        return f"{i18n.datetime_text(local, zone, form='full')} ({zone.key})"
    return f"{local:%A} {local.day} {local:%B %Y at %H:%M} ({zone.key})"


def _iso(value: datetime | None) -> str:
    return "" if value is None else value.astimezone(UTC).isoformat(timespec="seconds")


def _label(value: str | None, labels: dict) -> str:
    if value is None:
        return "—"
    return i18n.gettext(labels[value]) if value in labels else value


def _whole_percent(value: float) -> int:
    return min(100, max(0, round(value)))


templates.env.filters["when"] = _when
templates.env.filters["iso"] = _iso
templates.env.filters["label"] = _label
# Domains are stored in IDNA (punycode) form and shown in Unicode.
templates.env.filters["domain"] = domains.display
templates.env.globals["static_url"] = static_url
templates.env.globals["whole_percent"] = _whole_percent
templates.env.filters["number"] = lambda value: i18n.number_text(value)
templates.env.filters["country"] = i18n.country_name
templates.env.filters["language_name"] = i18n.language_name
# A text's direction from the language it is written in (rtl for Arabic).
templates.env.filters["direction"] = lambda code: i18n.LANGUAGES[code].direction if code in i18n.LANGUAGES else "auto"
templates.env.filters["evidence"] = i18n.evidence_words
templates.env.globals["languages"] = list(i18n.LANGUAGES.values())


def render(
    request: Request,
    viewer: Viewer,
    name: str,
    context: dict | None = None,
    *,
    status_code: int = 200,
    title: str | None = None,
) -> HTMLResponse:
    settings: Settings = request.app.state.settings
    csrf = Markup(f'<input type="hidden" name="{CSRF_FIELD}" value="{viewer.csrf_token}">')
    response = templates.TemplateResponse(
        request,
        name,
        {
            "viewer": viewer,
            "me": viewer.participant,
            # Staff and admins read every page but are offered nothing that takes part in a network.
            "takes_no_part": viewer.participant is not None and viewer.participant.role in CLEARING_HOUSE_ROLES,
            "csrf_field": csrf,
            "flash": viewer.flash,
            "taxonomy": i18n.localised(request.app.state.taxonomy),
            "language": i18n.current(),
            "title": title,
            **(context or {}),
        },
        status_code=status_code,
    )
    response.headers["Content-Language"] = i18n.current().tag
    return finish(response, viewer, settings)
