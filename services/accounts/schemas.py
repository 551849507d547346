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


def _one_line(name: str) -> str:
    # A name goes into mail headers ("From: Ada via CoGov") and one-line lists: a line break there could add a header.
    if any(character in name for character in "\r\n\t\u2028\u2029"):
        raise PydanticCustomError("line_break", "A name must be on one line: no line breaks or tabs")
    return name


DisplayName = Annotated[str, TextBounds(120, min_length=1, strip=True), AfterValidator(_one_line)]
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
    # False until the owner opens the link mailed to `email`; until then they may read but not take part.
    email_verified: bool
    # When the mail server last refused `email` for good; None while mail to it is accepted.
    email_bounced_at: datetime | None = None
    two_factor: bool = Field(False, description="Two-factor sign-in is on (required for staff and admins)")


class ProfileChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    display_name: DisplayName


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: Annotated[str, Field(min_length=1, max_length=passwords.MAX_PASSWORD_LENGTH)]
    new_password: Password


class PasswordConfirmation(BaseModel):
    """The account's password, asked again before an act that cannot be undone."""

    model_config = ConfigDict(extra="forbid")

    password: Annotated[str, Field(min_length=1, max_length=passwords.MAX_PASSWORD_LENGTH)]


class SessionOut(BaseModel):
    """One signed-in browser or API client."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: str = Field(description="`browser` (the pages) or `api` (a bearer token)")
    user_agent: str
    address: str
    created_at: datetime
    expires_at: datetime
    two_factor: bool = Field(description="Signed in with a second factor")
    current: bool = Field(False, description="The session of the token making this request")


# Six digits from an authenticator app, or a recovery code (`abcd-efgh-ijkl-mnop`); spaces and hyphens allowed.
Code = Annotated[str, Field(min_length=6, max_length=40, pattern=r"^[0-9A-Za-z \-]+$")]


class TwoFactorSetup(BaseModel):
    """A new secret for an authenticator app: scan `qr_svg` (or type `secret`), then POST a code with `enrolment`."""

    secret: str
    otpauth_uri: str
    qr_svg: str
    enrolment: str = Field(description="Send back with the first code; valid 15 minutes")


class TwoFactorEnable(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enrolment: Annotated[str, Field(min_length=1, max_length=2000)]
    code: Code


class CodeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: Code


class RecoveryCodes(BaseModel):
    """Single-use recovery codes, shown this once: keep them somewhere safe."""

    recovery_codes: list[str]


class TotpSignIn(BaseModel):
    """The second step of a sign-in: the `challenge` the first step answered with, and either an
    authenticator `code` or a `recovery_code`."""

    model_config = ConfigDict(extra="forbid")

    challenge: Annotated[str, Field(min_length=1, max_length=2000)]
    code: Code | None = None
    recovery_code: Code | None = None


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_at: datetime


class RoleChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role


# --- Mailed links: verification, password reset, change of address ------------------------

# A link's token as mailed; anything longer is not one of ours.
LinkTokenText = Annotated[str, Field(min_length=1, max_length=1000)]


class LinkToken(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: LinkTokenText


class ForgotPassword(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr


class PasswordReset(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: LinkTokenText
    password: Password


class EmailChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr


class Accepted(BaseModel):
    """What was done or is on its way, in a sentence."""

    detail: str
