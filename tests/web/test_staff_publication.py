"""The staff's Publication page in a real Chromium: reached from the staff navigation, it shows a failed publication
with its error, and its Retry button hands it back to the worker. No serious or critical axe-core violation."""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from playwright.sync_api import expect

from norms.ballots import NORM_ADOPTED
from norms.outbox import OutboxEvent
from services.accounts import service as accounts
from services.accounts.models import Role
from services.accounts.security import PasswordHashing
from services.kit.db import create_engine, create_sessionmaker, transaction
from tests.fixtures.web import WAIT_MS, axe_violations, describe, shoot, sign_in

pytestmark = pytest.mark.browser


async def _as_the_worker_left_it(database_url: str, staff_email: str, adoption_id: str) -> int:
    """Make `staff_email` staff and store a publication the worker gave up on; its event id."""
    engine = create_engine(database_url)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            await accounts.grant_role(session, PasswordHashing(1, 0), email=staff_email, role=Role.staff, password=None, display_name=None)
            now = datetime.now(UTC)
            event = OutboxEvent(
                kind=NORM_ADOPTED,
                created_at=now,
                attempts=10,
                failed_at=now,
                last_error="PublicationFailed: the disk was full",
                payload={
                    "adoption_id": adoption_id,
                    "network": "imported-network",
                    "norm": "imported-norm",
                    "version": 3,
                    "title": "Imported norm",
                },
            )
            session.add(event)
            await session.flush()
            return event.id
    finally:
        await engine.dispose()


def test_staff_reach_a_failed_publication_from_their_navigation_and_retry_it(live_server, new_page):
    staff = live_server.enrol_two_factor(live_server.person("Clara Staff"))  # as staff must
    adoption_id = str(uuid.uuid4())  # restored without its adoption: retrying fails again, with a new error
    with ThreadPoolExecutor(1) as aside:  # Playwright's sync API holds this thread's event loop
        event_id = aside.submit(
            asyncio.run, _as_the_worker_left_it(live_server.settings.database_url, staff["email"], adoption_id)
        ).result()
    page = new_page()
    sign_in(page, live_server, staff)
    page.goto(f"{live_server.url}/clearinghouse/staff")
    expect(page.get_by_role("status")).to_contain_text("could not be published")
    page.get_by_role("navigation", name="Clearing-house staff").get_by_role("link", name="Publication").click()
    page.wait_for_url(f"{live_server.url}/clearinghouse/staff/publication")
    row = page.locator(f"#publication-{event_id}")
    expect(row).to_contain_text("Imported norm")
    expect(row).to_contain_text("Failed")
    expect(row).to_contain_text("PublicationFailed: the disk was full")
    shoot(page, "staff-publication")
    violations = axe_violations(page)
    assert violations == [], describe(violations)

    row.get_by_role("button", name="Retry").click()
    expect(page.get_by_role("status").first).to_contain_text("Queued")
    # The worker takes it at once and fails again, for the new reason.
    for _ in range(WAIT_MS // 250):
        if "is stored" in row.inner_text():
            break
        page.wait_for_timeout(250)
        page.reload()
    expect(row).to_contain_text(f"no adoption {adoption_id} is stored")
    expect(row).to_contain_text("Retrying")
    expect(row.get_by_role("button", name="Retry")).to_have_count(0)
