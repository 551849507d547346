"""Building a mail: plain text and HTML alternatives from the templates beside this module, with the
headers every mail carries (`Message-ID`, `Date`, `Auto-Submitted: auto-generated`)."""

from __future__ import annotations

import re
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid, parseaddr
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from services.kit.errors import InvalidInput

TEMPLATES = Path(__file__).resolve().parent / "templates"

# Each kind of mail: its subject, and templates `<kind>.txt` and `<kind>.html`.
SUBJECTS = {
    "verify_email": "Confirm your email address for CoGov",
    "account_exists": "You already have a CoGov account",
    "reset_password": "Reset your CoGov password",
    "no_account": "Password reset requested for an address without a CoGov account",
    "change_email": "Confirm your new email address for CoGov",
    "email_changed": "Your CoGov email address is being changed",
}

_LINK = re.compile(r"https?://\S+")

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


class HeaderInjection(InvalidInput):
    """A name or an address holds a line break, which would add lines to the mail's headers."""

    code = "header_injection"


def refuse_line_breaks(*values: str) -> None:
    """`HeaderInjection` (422) if any value would break a header line."""
    if any(ch in value for value in values for ch in "\r\n\x00"):
        raise HeaderInjection()


def compose(*, kind: str, recipient: str, name: str | None, sender: str, context: dict[str, Any], now: datetime) -> EmailMessage:
    """The mail of `kind` to `recipient` (shown with `name`), its templates rendered with `context`."""
    refuse_line_breaks(recipient, name or "", sender)
    values = {**context, "name": name, "recipient": recipient}
    message = EmailMessage(policy=policy.SMTP)
    message["Subject"] = SUBJECTS[kind]
    message["From"] = sender
    message["To"] = formataddr((name, recipient)) if name else recipient
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=parseaddr(sender)[1].rpartition("@")[2] or "localhost")
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(_env.get_template(f"{kind}.txt").render(values))
    message.add_alternative(_env.get_template(f"{kind}.html").render(values), subtype="html")
    return message


def text_of(message: EmailMessage) -> str:
    """The plain-text part."""
    part = message.get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else ""


def links(text: str) -> list[str]:
    """Every http(s) address in a mail's text."""
    return _LINK.findall(text)
