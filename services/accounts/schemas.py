from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field
from pydantic_core import PydanticCustomError

from services.accounts import passwords
from services.accounts.models import Role
from services.kit.validation import TextBounds


def _acceptable(password: str) -> str:
    if (reason := passwords.weakness(password)) is not None:
        raise PydanticCustomError("weak_password", reason)
    return password


DisplayName = Annotated[str, TextBounds(120, min_length=1, strip=True)]
# A new password (sign-up, and a password change when there is one): the rule in accounts/passwords.py.
Password = Annotated[
    str,
    AfterValidator(_acceptable),
    Field(json_schema_extra={"minLength": passwords.MIN_PASSWORD_LENGTH, "maxLength": passwords.MAX_PASSWORD_LENGTH}),
]


class Registration(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    password: Password
    display_name: DisplayName


class SignUpReceived(BaseModel):
    """The answer to every sign-up, whether the address was new or already had an account."""

    email: str
    detail: str


class ParticipantOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    display_name: str
    role: Role
    created_at: datetime


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: datetime


class RoleChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role
