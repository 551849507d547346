"""A mail rendered once and copied for many people reads, for each, exactly as the mail composed for them alone:
their name (escaped in HTML, encoded in `To` when it is not ASCII), their address and their own link."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from services.kit.errors import InvalidInput
from services.mail.message import Stencil, compose, text_of
from services.mail.transport import parse

NOW = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
SENDER = "CoGov <cogov@example.org>"


@dataclass
class Item:
    shown_title: str = "Ballot open on Données ouvertes v2: vote by 2026-12-09 18:00 UTC"
    url: str = "/networks/open-data/norms/donnees/ballots/1"


PEOPLE = [
    ("Zoë O'Brien <Ops> & Co", "zoe@example.org"),
    ("Expert 07", "e7@example.org"),
    ("李明", "li@example.org"),
]


def link(address: str) -> str:
    return f"http://cogov.test/notifications/unsubscribe?token={address.encode().hex() * 4}.{'m' * 43}"


def test_each_copy_reads_as_the_mail_composed_for_that_person_alone():
    context = {"base_url": "http://cogov.test", "kinds": "a ballot opened in which you are an elector", "item": Item()}
    stencil = Stencil.render(
        kind="notification",
        sender=SENDER,
        context=context,
        varying=("unsubscribe",),
        now=NOW,
        subject=Item.shown_title,
        headers={"List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
    )
    for name, address in PEOPLE:
        own = {"List-Unsubscribe": f"<{link(address)}>"}
        copy = parse(stencil.fill(recipient=address, name=name, values={"unsubscribe": link(address)}, headers=own))
        alone = parse(
            compose(
                kind="notification",
                recipient=address,
                name=name,
                sender=SENDER,
                context={**context, "unsubscribe": link(address)},
                now=NOW,
                subject=Item.shown_title,
                headers={**own, "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
            ).as_bytes()
        )
        for header in ("Subject", "From", "Date", "Auto-Submitted", "List-Unsubscribe", "List-Unsubscribe-Post"):
            assert str(copy[header]) == str(alone[header]), header
        # `To` is checked on its own: composed alone, a name both non-ASCII and holding `<`, `>` or `&` lost its address.
        [to] = copy["To"].addresses
        assert (to.display_name, to.addr_spec) == (name, address)
        assert copy["Message-ID"] != alone["Message-ID"]
        assert text_of(copy) == text_of(alone)
        html = copy.get_body(preferencelist=("html",)).get_content()
        assert html == alone.get_body(preferencelist=("html",)).get_content()
        assert f'href="{link(address)}"' in html


def test_a_copy_refuses_a_name_or_address_that_would_add_header_lines():
    stencil = Stencil.render(
        kind="notification", sender=SENDER, context={"base_url": "", "kinds": "", "item": Item()}, varying=("unsubscribe",), now=NOW
    )
    with pytest.raises(InvalidInput):
        stencil.fill(recipient="a@example.org", name="Eve\r\nBcc: x@example.org", values={"unsubscribe": "u"})
    with pytest.raises(InvalidInput):
        stencil.fill(recipient="a@example.org\nBcc: x@example.org", name="Eve", values={"unsubscribe": "u"})


@pytest.mark.parametrize(("name", "address"), PEOPLE)
def test_a_mail_composed_alone_keeps_the_name_and_the_address(name, address):
    mail = parse(
        compose(
            kind="verify_email",
            recipient=address,
            name=name,
            sender=SENDER,
            context={"link": "http://cogov.test/v", "base_url": "http://cogov.test"},
            now=NOW,
        ).as_bytes()
    )
    [to] = mail["To"].addresses
    assert (to.display_name, to.addr_spec) == (name, address)
