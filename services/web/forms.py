"""Form posts on pages: read fields, validate them with the API's own schemas, answer with a redirect.

A failed use case rolls the request's session back and is shown to the person, either on the
form it came from (with what they typed) or, for buttons on a page, as a flash message after a
redirect back to that page.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import RedirectResponse
from markupsafe import Markup, escape
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.errors import DomainError
from services.settings import Settings
from services.web import i18n
from services.web.i18n import formatted, gettext, ngettext
from services.web.session import CSRF_FIELD, Viewer, finish, set_flash
from services.web.templating import in_words, reader_zone

Model = TypeVar("Model", bound=BaseModel)
T = TypeVar("T")


class FormInvalid(Exception):
    """Fields a person must correct, by field name (`_` for the form as a whole)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{field}: {message}" for field, message in errors.items()))
        self.errors = errors


async def fields(request: Request) -> dict[str, str]:
    """The posted fields as strings (the CSRF token left out); repeated fields keep their last value."""
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str) and key != CSRF_FIELD}


def parse(model: type[Model], data: dict[str, Any]) -> Model:
    """`model` validated from form data; `FormInvalid` with a readable message per field."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors():
            field = ".".join(str(part) for part in error.get("loc", ())) or "_"
            message = error.get("msg", "invalid").removeprefix("Value error, ")
            errors.setdefault(field, message[:1].upper() + message[1:])
        raise FormInvalid(errors) from None


async def attempt(session: AsyncSession, action: Callable[[], Awaitable[T]]) -> tuple[T | None, DomainError | None]:
    """Run a use case in a savepoint; on a domain error undo everything it wrote and return the error.

    Only the savepoint is rolled back, so what the page loaded before (the signed-in participant)
    stays usable for showing the form again.
    """
    savepoint = await session.begin_nested()
    try:
        result = await action()
    except DomainError as exc:
        await savepoint.rollback()
        return None, exc
    await savepoint.commit()
    return result, None


def beside(errors: dict[str, str], names: tuple[str, ...]) -> dict[str, str | Markup]:
    """Parse errors keyed by the form's own field names: a nested field (`anchor.start`) goes beside the field its
    name starts with, anything else to the form as a whole (`_`); the first message for a field is kept."""
    placed: dict[str, str | Markup] = {}
    for field, message in errors.items():
        placed.setdefault(next((name for name in names if field == name or field.startswith(f"{name}.")), "_"), message)
    return placed


def field_errors(exc: DomainError) -> dict[str, str]:
    """A domain error's per-field messages (as in its `errors` extra), or the message for the whole form."""
    listed = exc.extra.get("errors")
    if isinstance(listed, list) and listed:
        return {str(error.get("field", "_")).removeprefix("query."): str(error.get("message", exc.detail)) for error in listed}
    return {"_": exc.detail}


@dataclass(frozen=True)
class Refusal:
    """A domain error as a page says it: in words (times in the reader's zone, no API address), with a link to
    where the person can put it right when there is one."""

    text: str
    fix: tuple[str, str] | None = None

    def html(self) -> Markup:
        """The message, and its link, for an error shown on the page itself."""
        if self.fix is None:
            return Markup(escape(self.text))
        href, words = self.fix
        return Markup(f'{escape(self.text)} <a href="{escape(href)}">{escape(words)}</a>.')


@dataclass(frozen=True)
class FailedForm:
    """A form sent back to the page it is on: which one, each field's message (`_` for the form as a whole),
    and what the person entered (`chosen`: the boxes ticked, for fields that take several), so the page shows it
    again with the messages beside the fields."""

    form: str
    errors: dict[str, str | Markup]
    values: dict[str, str]
    status_code: int = 422
    chosen: dict[str, list[str]] = dataclass_field(default_factory=dict)


_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[+-]\d{2}:\d{2}|Z)?")


def refusal(error: DomainError, zone: ZoneInfo, here: str) -> Refusal:
    """How a page tells a person that `error` refused what they asked; `here` is the page to come back to."""
    extra = error.extra
    if error.code in ("affiliation_required", "affiliation_not_set"):
        act = error.detail.split(";", 1)[0].removeprefix("You have not set an affiliation yet").strip()
        text = f"{act or gettext('You need an affiliation to do this')}."
        return Refusal(text, (f"/me/affiliation?next={quote(here)}", gettext("Set your affiliation")))
    if error.code == "closes_at_invalid" and "earliest" in extra:
        hours = int(str(extra["min_ballot_hours"]))
        said = ngettext(
            "A ballot stays open at least %(num)s hour (the charter's minimum): choose %(moment)s or later.",
            "A ballot stays open at least %(num)s hours (the charter's minimum): choose %(moment)s or later.",
            hours,
        )
        return Refusal(said % {"num": hours, "moment": in_words(str(extra["earliest"]), zone)})
    if error.code == "closes_at_invalid" and "latest" in extra:
        return Refusal(
            formatted("A ballot closes within a year at most: choose %(moment)s or earlier.", moment=in_words(str(extra["latest"]), zone))
        )
    if error.code == "closes_at_invalid":
        return Refusal(gettext("Choose a closing time in the future and within a year."))
    if error.code == "network_not_active" and "network" in extra:
        fix = (f"/networks/{extra['network']}#formation", gettext("See what its members lack"))
        return Refusal(gettext("The network is still forming: ballots open only in active networks."), fix)
    if error.code == "version_not_found":
        number = re.search(r"version (\d+)$", error.detail)
        if number is None:
            return Refusal(gettext("This norm has no version by that number: choose one of its versions."))
        return Refusal(formatted("This norm has no version %(number)s: choose one of its versions.", number=number.group(1)))
    if error.code == "translation_exists" and "language" in extra:
        code = str(extra["language"])
        said = formatted("This version already has a translation into %(language)s: edit that one.", language=i18n.language_name(code))
        return Refusal(said, (f"{here}/translations/{code}", gettext("Open the translation")))
    if error.code == "translation_of_authentic_text" and "language" in extra:
        language = i18n.language_name(str(extra["language"]))
        return Refusal(
            formatted(
                "The norm is drafted in %(language)s: its text in %(language)s is the original, not a translation.", language=language
            )
        )
    # Otherwise the message itself, with its times in words and without the clauses that name API addresses.
    kept = [part for part in error.detail.split("; ") if "/api/" not in part] or [gettext("This cannot be done now")]
    text = _MOMENT.sub(lambda found: in_words(found.group(0), zone), "; ".join(kept))
    return Refusal(text[:1].upper() + text[1:])


def safe_next(target: str | None, default: str = "/") -> str:
    """A local path to go back to; anything pointing off-site becomes `default`."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def redirect(
    url: str, viewer: Viewer, settings: Settings, *, flash: tuple[str, str] | None = None, refused: DomainError | None = None
) -> RedirectResponse:
    """303 See Other to `url` (the post/redirect/get pattern), optionally with a flash message: given, or the
    words for a refusal (see `refusal`), with its link to where to fix it."""
    response = RedirectResponse(url, status_code=303)
    finish(response, viewer, settings)
    if flash is not None:
        set_flash(response, settings, *flash)
    if refused is not None:
        said = refusal(refused, reader_zone(viewer.zone_name), url.split("#", 1)[0])
        set_flash(response, settings, "error", said.text, said.fix)
    return response
