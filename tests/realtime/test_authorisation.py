"""Who may read, who may write, and how a socket loses its rights."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
import websockets

from services.realtime import tickets
from services.realtime.client import DocumentUnavailable, SyncClient, SyncError
from tests.fixtures.app import TEST_SECRET

ORIGINAL = "Platforms publish their ranking criteria."


async def _stored_text(client, norm) -> str:
    return (await client.get(f"/api/v1/norms/{norm['id']}")).json()["text"]


async def _closed(sync_client: SyncClient, timeout: float = 5) -> tuple[int, str]:
    async with asyncio.timeout(timeout):
        return await sync_client.closed


async def test_reader_without_ticket_follows_a_public_norm(network, norm, connect):
    reader = await (await connect()).open(norm["url"])
    assert reader.text == ORIGINAL
    writer = await (await connect(network["members"][2])).open(norm["url"])
    await writer.splice(0, 0, "All ")
    await reader.wait_for(lambda handle: handle.text == "All " + ORIGINAL)


async def test_reader_without_ticket_cannot_edit(client, network, norm, connect):
    anonymous = await connect()
    handle = await anonymous.open(norm["url"])
    await handle.splice(0, 0, "Anonymous ")
    code, reason = await _closed(anonymous)
    assert code == 1008 and "read-only" in reason
    assert any("sign in" in error for error in anonymous.errors)
    assert await _stored_text(client, norm) == ORIGINAL


async def test_non_member_changes_are_refused_and_not_stored(client, network, norm, connect):
    member = await (await connect(network["members"][0])).open(norm["url"])
    outsider = await connect(network["outsider"])
    handle = await outsider.open(norm["url"])  # outsiders may read
    await handle.splice(0, 0, "Outsider says: ")
    code, reason = await _closed(outsider)
    assert code == 1008
    assert "nothing stored" in reason and any("member" in error for error in outsider.errors)
    assert await _stored_text(client, norm) == ORIGINAL
    # The member's socket carries on and never hears of the refused change.
    await member.splice(len(member.text), 0, "!")
    await member.wait_synced()
    assert member.text == ORIGINAL + "!"
    assert await _stored_text(client, norm) == ORIGINAL + "!"


async def test_forged_actor_is_refused(client, network, norm, connect):
    amina = await (await connect(network["members"][0])).open(norm["url"])
    await amina.splice(0, 0, "A")
    await amina.wait_synced()
    bruno_client = await connect(network["members"][1])
    bruno = await bruno_client.open(norm["url"])
    bruno.actor = amina.actor  # write in Amina's name
    await bruno.splice(0, 0, "B")
    code, reason = await _closed(bruno_client)
    assert code == 1008 and "another participant" in reason
    assert await _stored_text(client, norm) == "A" + ORIGINAL


async def test_unknown_document_is_unavailable(connect):
    from norms.document import document_url

    anonymous = await connect()
    with pytest.raises(DocumentUnavailable):
        await anonymous.open(document_url(uuid.uuid4().bytes))
    with pytest.raises(DocumentUnavailable):
        await anonymous.open("automerge:not-a-document-id")
    assert not anonymous.closed.done()  # asking is allowed; the socket stays open


async def test_ticket_is_single_use(network, live, ticket_for):
    ticket = await ticket_for(network["members"][0])
    first = await SyncClient.connect(live, ticket=ticket)
    with pytest.raises(SyncError, match="4401.*already used"):
        await SyncClient.connect(live, ticket=ticket)
    await first.close()


async def test_expired_or_forged_ticket_is_refused(network, live):
    expired, _ = tickets.issue(uuid.UUID(network["members"][0]["id"]), 0, TEST_SECRET, timedelta(seconds=-1))
    with pytest.raises(SyncError, match="4401.*expired"):
        await SyncClient.connect(live, ticket=expired)
    forged, _ = tickets.issue(uuid.UUID(network["members"][0]["id"]), 0, "another-secret-" + "y" * 40, timedelta(seconds=60))
    with pytest.raises(SyncError, match="4401"):
        await SyncClient.connect(live, ticket=forged)


async def test_foreign_origin_is_refused(live):
    with pytest.raises(websockets.InvalidStatus) as refused:
        await SyncClient.connect(live, origin="https://evil.example")
    assert refused.value.response.status_code == 403
    same_origin = "http://" + live.removeprefix("ws://").split("/")[0]
    await (await SyncClient.connect(live, origin=same_origin)).close()


async def test_logout_closes_the_participants_sockets(client, network, norm, connect):
    amina = network["members"][0]
    sync_client = await connect(amina)
    await sync_client.open(norm["url"])
    assert (await client.post("/api/v1/auth/logout", headers=amina["headers"])).status_code == 204
    code, reason = await _closed(sync_client)
    assert code == 4401 and "signed out" in reason


async def test_leaving_the_network_closes_the_members_sockets(client, network, norm, connect):
    chen = network["members"][2]
    sync_client = await connect(chen)
    await sync_client.open(norm["url"])
    left = await client.post(f"/api/v1/networks/{network['slug']}/leave", headers=chen["headers"])
    assert left.status_code == 204, left.text
    code, reason = await _closed(sync_client)
    assert code == 4403 and "no longer a member" in reason


async def test_a_member_without_a_proven_address_reads_but_cannot_edit(client, app, network, norm, connect):
    from tests.fixtures.accounts import mark_unverified

    await mark_unverified(app.state.sessionmaker, network["members"][1]["email"])
    unproven = await connect(network["members"][1])
    handle = await unproven.open(norm["url"])
    assert handle.text == ORIGINAL
    await handle.splice(0, 0, "Unproven says: ")
    code, reason = await _closed(unproven)
    assert code == 1008 and reason.startswith("email_unverified:") and "nothing stored" in reason
    assert await _stored_text(client, norm) == ORIGINAL


async def test_a_non_member_is_refused_without_the_unverified_reason(client, network, norm, connect, sign_up):
    outsider = await connect(await sign_up("Olu Outsider"))
    handle = await outsider.open(norm["url"])
    await handle.splice(0, 0, "Outsider says: ")
    code, reason = await _closed(outsider)
    assert code == 1008 and "nothing stored" in reason and not reason.startswith("email_unverified")
    assert await _stored_text(client, norm) == ORIGINAL


async def test_a_member_who_becomes_staff_has_live_edits_refused_with_the_reason(client, app, network, norm, connect):
    from services.accounts import service as accounts
    from services.accounts.models import Role
    from services.kit.db import transaction

    member = network["members"][2]
    async with transaction(app.state.sessionmaker) as session:
        await accounts.grant_role(
            session, app.state.password_hashing, email=member["email"], role=Role.staff, password=None, display_name=None
        )
    staff_client = await connect(member)
    handle = await staff_client.open(norm["url"])  # staff read like anyone
    assert handle.text == ORIGINAL
    await handle.splice(0, 0, "Curated: ")
    code, reason = await _closed(staff_client)
    assert code == 1008
    assert "nothing stored" in reason
    assert any("staff" in error and "never takes part" in error for error in staff_client.errors + [reason])
    assert await _stored_text(client, norm) == ORIGINAL
