"""In a real Chromium, clearing-house staff see that they take no part: a network's page offers them no way to join,
and a join sent anyway is refused on the page with its reason."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.sync_api import expect

from services.accounts import service as accounts
from services.accounts.models import Role
from services.accounts.security import PasswordHashing
from services.kit.db import create_engine, create_sessionmaker, transaction
from tests.fixtures.web import shoot, sign_in

pytestmark = pytest.mark.browser


async def _make_staff(database_url: str, email: str) -> None:
    engine = create_engine(database_url)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            await accounts.grant_role(session, PasswordHashing(1, 0), email=email, role=Role.staff, password=None, display_name=None)
    finally:
        await engine.dispose()


def test_staff_are_offered_no_join_and_a_join_sent_anyway_is_refused_with_its_reason(live_server, new_page):
    founder = live_server.person("Amina Founder", group="civil_society", country="KE")
    slug = live_server.network(founder)
    staff = live_server.person("Clara Staff", group="government", country="FR")
    with ThreadPoolExecutor(1) as aside:  # Playwright's sync API holds this thread's event loop
        aside.submit(asyncio.run, _make_staff(live_server.settings.database_url, staff["email"])).result()
    page = new_page()
    sign_in(page, live_server, staff)
    page.goto(f"{live_server.url}/networks/{slug}")
    membership = page.locator("#membership")
    expect(membership).to_contain_text("never takes part in a network")
    expect(membership.get_by_role("button", name="Join the network")).to_have_count(0)
    shoot(page, "network-as-staff")

    # A join posted from the page anyway (an old tab, a crafted form) is refused, with the reason shown.
    page.evaluate(
        """slug => {
            const form = document.createElement('form');
            form.method = 'post';
            form.action = `/networks/${slug}/join`;
            form.append(document.querySelector('input[name=csrf_token]').cloneNode());
            document.body.append(form);
            form.submit();
        }""",
        slug,
    )
    page.wait_for_url(f"{live_server.url}/networks/{slug}")
    expect(page.get_by_role("alert")).to_contain_text("Clearing-house staff and administrators cannot join")
    members = live_server.api.get(f"/api/v1/networks/{slug}/members").json()["items"]
    assert [member["participant_id"] for member in members] == [founder["id"]]
