"""Building a mail: plain text and HTML alternatives from the templates beside this module, with the
headers every mail carries (`Message-ID`, `Date`, `Auto-Submitted: auto-generated`).

`compose` builds one mail. A `Stencil` builds the same mail for many people (a notification to every elector
of a ballot): its templates are rendered and its shared headers written once, and each copy only fills in
what differs (the name, the address, an unsubscribe link) and its own `To`, `Message-ID` and extra headers."""

from __future__ import annotations

import binascii
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid, parseaddr
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import escape

from services.kit.errors import InvalidInput
from services.web import i18n

TEMPLATES = Path(__file__).resolve().parent / "templates"

# Each kind of mail: its subject, and templates `<kind>.txt` and `<kind>.html`. A mail is written in the language
# of the request that causes it (services/web/i18n.py).
SUBJECTS = {
    "verify_email": i18n.lazy_gettext("Confirm your email address for CoGov"),
    "account_exists": i18n.lazy_gettext("You already have a CoGov account"),
    "reset_password": i18n.lazy_gettext("Reset your CoGov password"),
    "no_account": i18n.lazy_gettext("Password reset requested for an address without a CoGov account"),
    "change_email": i18n.lazy_gettext("Confirm your new email address for CoGov"),
    "email_changed": i18n.lazy_gettext("Your CoGov email address is being changed"),
    "prove_address": i18n.lazy_gettext("Prove your organisation's address for CoGov"),
    # Notifications name their subject themselves (`compose(subject=…)`).
    "notification": i18n.lazy_gettext("CoGov notification"),
    "digest": i18n.lazy_gettext("Your CoGov digest"),
}

_LINK = re.compile(r"https?://\S+")

_env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
    extensions=["jinja2.ext.i18n"],
)
_env.install_gettext_callables(i18n.gettext, i18n.ngettext, newstyle=True)  # type: ignore[attr-defined]


class HeaderInjection(InvalidInput):
    """A name or an address holds a line break, which would add lines to the mail's headers."""

    code = "header_injection"


def refuse_line_breaks(*values: str) -> None:
    """`HeaderInjection` (422) if any value would break a header line."""
    if any(ch in value for value in values for ch in "\r\n\x00"):
        raise HeaderInjection()


def compose(
    *,
    kind: str,
    recipient: str,
    name: str | None,
    sender: str,
    context: dict[str, Any],
    now: datetime,
    subject: str | None = None,
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    """The mail of `kind` to `recipient` (shown with `name`), its templates rendered with `context`; `subject`
    replaces the kind's own, and `headers` are added (`List-Unsubscribe`, say)."""
    refuse_line_breaks(recipient, name or "", sender, subject or "", *(headers or {}).values())
    values = {**context, "name": name, "recipient": recipient, "language": i18n.current()}
    message = EmailMessage(policy=policy.SMTP)
    message["Subject"] = subject or str(SUBJECTS[kind])
    message["From"] = sender
    message["To"] = _to(name, recipient)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = make_msgid(domain=parseaddr(sender)[1].rpartition("@")[2] or "localhost")
    message["Auto-Submitted"] = "auto-generated"
    for header, value in (headers or {}).items():
        message[header] = value
    message.set_content(_env.get_template(f"{kind}.txt").render(values))
    message.add_alternative(_env.get_template(f"{kind}.html").render(values), subtype="html")
    return message


# --- One mail for many people ---------------------------------------------------------------------

_OPEN, _CLOSE = "\ue000", "\ue001"  # private-use characters: no template or value holds them
_LONGEST_LINE = 78  # RFC 5322's recommendation; a header that cannot be folded may run to 998


def _marker(name: str) -> str:
    return f"{_OPEN}{name}{_CLOSE}"


def _header(name: str, value: str) -> bytes:
    """One header line as it goes on the wire. Plain ASCII that fits (or that has no place to fold, like a
    `List-Unsubscribe` address, RFC 2369) is written as it is; anything else is folded and encoded by the
    standard library, as `compose` does."""
    line = f"{name}: {value}"
    if value.isascii() and value.isprintable() and (len(line) <= _LONGEST_LINE or (" " not in value and len(line) <= 998)):
        return f"{line}\r\n".encode("ascii")
    return policy.SMTP.fold_binary(*policy.SMTP.header_store_parse(name, value))


def _part(subtype: str, content: str) -> bytes:
    """A text part in UTF-8: 7bit when it is ASCII with short lines, else quoted-printable."""
    lines = content.replace("\r\n", "\n").split("\n")
    body = "\r\n".join(lines)
    if body.isascii() and all(len(line) <= _LONGEST_LINE for line in lines):
        encoding, data = "7bit", body.encode("ascii")
    else:
        encoding, data = "quoted-printable", binascii.b2a_qp(body.encode("utf-8"))
    return f'Content-Type: text/{subtype}; charset="utf-8"\r\nContent-Transfer-Encoding: {encoding}\r\n\r\n'.encode("ascii") + data


@dataclass(frozen=True)
class Stencil:
    """The mail of `kind` rendered once, with a marker wherever a copy's own values go (`name`, `recipient` and
    each of `varying`): `fill` makes each person's copy by plain substitution. Values reach the templates only
    as `{{ name }}`-style output (no filter may change them), which `fill` checks."""

    kind: str
    subject: str
    shared: bytes  # Subject, From, Date, Auto-Submitted and the headers every copy has
    text: str
    html: str
    boundary: str
    domain: str

    @classmethod
    def render(
        cls,
        *,
        kind: str,
        sender: str,
        context: dict[str, Any],
        varying: tuple[str, ...],
        now: datetime,
        subject: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Stencil:
        subject = subject or str(SUBJECTS[kind])
        refuse_line_breaks(sender, subject, *(headers or {}).values())
        values = {**context, **{key: _marker(key) for key in (*varying, "name", "recipient")}, "language": i18n.current()}
        shared = [("Subject", subject), ("From", sender), ("Date", format_datetime(now)), ("Auto-Submitted", "auto-generated")]
        return cls(
            kind=kind,
            subject=subject,
            shared=b"".join(_header(name, value) for name, value in [*shared, *(headers or {}).items()]),
            text=_env.get_template(f"{kind}.txt").render(values),
            html=_env.get_template(f"{kind}.html").render(values),
            boundary=f"=_{secrets.token_hex(16)}",
            domain=parseaddr(sender)[1].rpartition("@")[2] or "localhost",
        )

    def fill(
        self, *, recipient: str, name: str | None, values: dict[str, str] | None = None, headers: dict[str, str] | None = None
    ) -> bytes:
        """The whole mail, as it is handed to the server, for `recipient` (shown with `name`)."""
        refuse_line_breaks(recipient, name or "", *(headers or {}).values())
        own = {**(values or {}), "name": name or "", "recipient": recipient}
        text, html = self.text, self.html
        for key, value in own.items():
            text = text.replace(_marker(key), value)
            html = html.replace(_marker(key), str(escape(value)))
        if _OPEN in text or _OPEN in html:
            raise ValueError(f"a value of this mail was not filled in: {(text + html)[(text + html).index(_OPEN) :][:40]!r}")
        to = _to(name, recipient)
        head = [("To", to), ("Message-ID", make_msgid(domain=self.domain)), *(headers or {}).items()]
        boundary = self.boundary.encode("ascii")
        return b"".join(
            [
                self.shared,
                *(_header(header, value) for header, value in head),
                b'MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary="' + boundary + b'"\r\n\r\n',
                b"--" + boundary + b"\r\n" + _part("plain", text) + b"\r\n",
                b"--" + boundary + b"\r\n" + _part("html", html) + b"\r\n",
                b"--" + boundary + b"--\r\n",
            ]
        )


def _to(name: str | None, recipient: str) -> str:
    """`name <recipient>`, the name quoted where it must be and its non-ASCII letters left to the header's own
    encoding: an encoded word made beforehand that holds `<` or `&` would be read back as the address."""
    if not name:
        return recipient
    if name.isascii():
        return formataddr((name, recipient))
    quoted = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{quoted}" <{recipient}>'


def text_of(message: EmailMessage) -> str:
    """The plain-text part."""
    part = message.get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else ""


def links(text: str) -> list[str]:
    """Every http(s) address in a mail's text."""
    return _LINK.findall(text)
