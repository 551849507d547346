"""Follow-up of adopted norms by subscriber organisations: statuses per subscriber counted by region, only
subscribers write, every change audited, and WebSub receipts acknowledging deliveries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from services.accounts import service as accounts
from services.accounts.models import Role
from services.kit.db import transaction
from tests.clearinghouse.subscriber import Subscriber
from tests.clearinghouse.test_websub import ATOM, subscribed
from tests.fixtures.accounts import enrol_two_factor
from tests.fixtures.clearinghouse import adopt


async def make_subscriber(client, app, sign_up, name: str, country: str, organisation: str) -> dict:
    person = await sign_up(name)
    answer = await client.put(
        "/api/v1/me/affiliation",
        json={"stakeholder_group": "government", "country": country, "organisation": organisation},
        headers=person["headers"],
    )
    assert answer.status_code == 200, answer.text
    async with transaction(app.state.sessionmaker) as session:
        await accounts.grant_role(
            session, app.state.password_hashing, email=person["email"], role=Role.subscriber, password=None, display_name=None
        )
    return person


async def test_statuses_are_counted_by_region_and_only_subscribers_write(client, app, sign_up, published):
    entry = published["entry"]
    url = f"/api/v1/clearinghouse/entries/{entry['id']}/follow-up"
    france = await make_subscriber(client, app, sign_up, "France", "FR", "Ministère du Numérique")
    germany = await make_subscriber(client, app, sign_up, "Germany", "DE", "BMDV")
    kenya = await make_subscriber(client, app, sign_up, "Kenya", "KE", "ICT Authority")
    for person, status in ((france, "implemented"), (germany, "under_review"), (kenya, "implemented")):
        answer = await client.put(
            url,
            json={"status": status, "date": "2026-11-01", "instrument_url": "https://example.org/law", "note": "ok"},
            headers=person["headers"],
        )
        assert answer.status_code == 200, answer.text
    shown = (await client.get(url)).json()
    assert shown["total"] == 3
    assert shown["by_status"] == {"received": 0, "under_review": 1, "implemented": 2, "not_applicable": 0}
    assert shown["by_region"] == {"africa": {"implemented": 1}, "western_europe_others": {"implemented": 1, "under_review": 1}}
    assert {row["organisation"] for row in shown["items"]} == {"Ministère du Numérique", "BMDV", "ICT Authority"}
    # Changing a status replaces it, and the audit log keeps both.
    changed = await client.put(url, json={"status": "not_applicable", "date": "2026-11-05"}, headers=germany["headers"])
    assert changed.json()["by_region"]["western_europe_others"] == {"implemented": 1, "not_applicable": 1}
    events = (await client.get("/api/v1/audit", params={"target_id": entry["id"], "action": "clearinghouse.follow_up_recorded"})).json()[
        "items"
    ]
    assert len(events) == 4 and events[0]["payload"]["from"] == "under_review" and events[0]["payload"]["to"] == "not_applicable"

    member = published["council"]["members"][0]
    assert (await client.put(url, json={"status": "received", "date": "2026-11-01"}, headers=member["headers"])).status_code == 403
    assert (await client.put(url, json={"status": "received", "date": "2026-11-01"})).status_code == 401
    for bad in (
        {"status": "ratified", "date": "2026-11-01"},
        {"status": "received"},
        {"status": "received", "date": "soon"},
        {"status": "received", "date": "2026-11-01", "instrument_url": "javascript:alert(1)"},
        {"status": "received", "date": "2026-11-01", "note": "x" * 5001},
    ):
        answer = await client.put(url, json=bad, headers=france["headers"])
        assert answer.status_code == 422, bad
        assert answer.json()["detail"]
    missing = "/api/v1/clearinghouse/entries/00000000-0000-0000-0000-000000000000/follow-up"
    assert (await client.get(missing)).status_code == 404


async def test_a_follow_up_dated_in_the_future_is_refused(client, app, sign_up, published, clock):
    url = f"/api/v1/clearinghouse/entries/{published['entry']['id']}/follow-up"
    france = await make_subscriber(client, app, sign_up, "France", "FR", "Ministère du Numérique")
    today = clock.now().date()
    for future in ("2099-01-01", (today + timedelta(days=2)).isoformat()):
        answer = await client.put(url, json={"status": "implemented", "date": future}, headers=france["headers"])
        assert answer.status_code == 422, future
        assert answer.json()["code"] == "follow_up_date_invalid" and future in answer.json()["detail"]
    assert (await client.get(url)).json()["total"] == 0
    # Today is today somewhere: up to UTC+14.
    for fine in (today.isoformat(), (clock.now() + timedelta(hours=14)).date().isoformat()):
        answer = await client.put(url, json={"status": "implemented", "date": fine}, headers=france["headers"])
        assert answer.status_code == 200, answer.text


async def test_admins_make_subscribers(client, app, sign_up):
    admin = await sign_up("Ada Admin")
    async with transaction(app.state.sessionmaker) as session:
        await accounts.grant_role(
            session, app.state.password_hashing, email=admin["email"], role=Role.admin, password=None, display_name=None
        )
    await enrol_two_factor(client, admin, app.state.clock.now())
    government = await sign_up("Gov")
    me = (await client.get("/api/v1/me", headers=government["headers"])).json()
    made = await client.put(f"/api/v1/participants/{me['id']}/role", json={"role": "subscriber"}, headers=admin["headers"])
    assert made.status_code == 200 and made.json()["role"] == "subscriber"


@dataclass
class ReceiptSubscriber(Subscriber):
    """A callback that acknowledges each delivery with its receipt token."""

    receipt: str = ""

    async def _answer(self, send, status: int, body: bytes) -> None:
        headers = [(b"content-type", b"text/plain"), (b"x-cogov-receipt", self.receipt.encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


async def test_a_receipt_header_acknowledges_delivered_norms_as_received(client, app, sign_up, council, clock, worker):
    government = await make_subscriber(client, app, sign_up, "France", "FR", "Ministère")
    refused = await client.post("/api/v1/clearinghouse/receipt-token", headers=council["convener"]["headers"])
    assert refused.status_code == 403
    token = (await client.post("/api/v1/clearinghouse/receipt-token", headers=government["headers"])).json()["token"]
    server = await ReceiptSubscriber(receipt=token).start()
    try:
        await subscribed(client, worker, server.url("/hook"), ATOM)
        await adopt(client, council, clock)
        await worker.run_once()
        assert len(server.accepted()) == 1
    finally:
        await server.stop()
    [entry] = (await client.get("/api/v1/clearinghouse/entries")).json()["items"]
    shown = (await client.get(f"/api/v1/clearinghouse/entries/{entry['id']}/follow-up")).json()
    assert [(row["status"], row["organisation"]) for row in shown["items"]] == [("received", "Ministère")]
    assert shown["by_region"] == {"western_europe_others": {"received": 1}}


async def test_the_entry_page_shows_the_follow_up_table_and_region_summary(client, app, sign_up, published):
    entry = published["entry"]
    kenya = await make_subscriber(client, app, sign_up, "Kenya", "KE", "ICT Authority")
    await client.put(
        f"/api/v1/clearinghouse/entries/{entry['id']}/follow-up",
        json={"status": "implemented", "date": "2026-10-01"},
        headers=kenya["headers"],
    )
    page = await client.get(entry["permalink"].removeprefix("http://127.0.0.1:8000"))
    assert page.status_code == 200
    assert 'id="follow-up-regions"' in page.text and "ICT Authority" in page.text and "akn.xml" in page.text


async def test_staff_verify_a_self_registered_organisation_as_subscriber(client, sign_up, staff):
    applicant = await sign_up("Self Registered Ministry")
    me = (await client.get("/api/v1/me", headers=applicant["headers"])).json()
    refused = await client.post("/api/v1/clearinghouse/subscribers", json={"participant_id": me["id"]}, headers=applicant["headers"])
    assert refused.status_code == 403
    verified = await client.post("/api/v1/clearinghouse/subscribers", json={"participant_id": me["id"]}, headers=staff["headers"])
    assert verified.status_code == 200 and verified.json()["role"] == "subscriber"
    events = (await client.get("/api/v1/audit", params={"target_id": me["id"], "action": "participant.role_changed"})).json()["items"]
    assert events[0]["payload"] == {"from": "participant", "to": "subscriber"}
    staff_id = (await client.get("/api/v1/me", headers=staff["headers"])).json()["id"]
    assert (
        await client.post("/api/v1/clearinghouse/subscribers", json={"participant_id": staff_id}, headers=staff["headers"])
    ).status_code == 409
    missing = {"participant_id": "00000000-0000-0000-0000-000000000000"}
    assert (await client.post("/api/v1/clearinghouse/subscribers", json=missing, headers=staff["headers"])).status_code == 404
