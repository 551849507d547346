"""Form posts on pages: read fields, validate them with the API's own schemas, answer with a redirect.

A failed use case rolls the request's session back and is shown to the person, either on the
form it came from (with what they typed) or, for buttons on a page, as a flash message after a
redirect back to that page.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.errors import DomainError
from services.settings import Settings
from services.web.session import CSRF_FIELD, Viewer, finish, set_flash

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


def field_errors(exc: DomainError) -> dict[str, str]:
    """A domain error's per-field messages (as in its `errors` extra), or the message for the whole form."""
    listed = exc.extra.get("errors")
    if isinstance(listed, list) and listed:
        return {str(error.get("field", "_")).removeprefix("query."): str(error.get("message", exc.detail)) for error in listed}
    return {"_": exc.detail}


def safe_next(target: str | None, default: str = "/") -> str:
    """A local path to go back to; anything pointing off-site becomes `default`."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target


def redirect(url: str, viewer: Viewer, settings: Settings, *, flash: tuple[str, str] | None = None) -> RedirectResponse:
    """303 See Other to `url` (the post/redirect/get pattern), optionally with a flash message."""
    response = RedirectResponse(url, status_code=303)
    finish(response, viewer, settings)
    if flash is not None:
        set_flash(response, settings, *flash)
    return response
