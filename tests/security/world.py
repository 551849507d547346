"""A populated CoGov built through the real API: one participant of every role and one of every resource.

An active council network (convener Amina, members Bruno, Chen, Dana) whose norm was adopted by a
real ballot and published to the clearing house, a second open ballot, an open consultation with
a comment, an outsider with a pending application, staff, an admin and a subscriber organisation.
"""

from __future__ import annotations

from datetime import timedelta

from services.accounts import service as accounts
from services.accounts.models import Role
from services.kit.db import transaction
from tests.fixtures.accounts import PASSWORD, enrol_two_factor
from tests.fixtures.clearinghouse import adopt

ROLES = ("anonymous", "participant", "member", "convener", "staff", "subscriber", "admin")


async def _grant(client, app, person: dict, role: Role) -> dict:
    async with transaction(app.state.sessionmaker) as session:
        await accounts.grant_role(session, app.state.password_hashing, email=person["email"], role=role, password=None, display_name=None)
    if role in (Role.staff, Role.admin):  # who must sign in with a second factor
        await enrol_two_factor(client, person, app.state.clock.now())
    return person


async def build(client, app, sign_up, make_council, clock, worker) -> dict:
    council = await make_council()
    norm_id = council["norm"]["id"]
    adopted = await adopt(client, council, clock)
    assert await worker.publish_pending() == 1
    [entry] = (await client.get("/api/v1/clearinghouse/entries")).json()["items"]

    convener, member = council["convener"], council["members"][1]
    tagged = await client.post(f"/api/v1/norms/{norm_id}/versions", json={"label": "Second reading"}, headers=convener["headers"])
    assert tagged.status_code == 201, tagged.text
    ballot = await client.post(
        f"/api/v1/norms/{norm_id}/ballots",
        json={"version": tagged.json()["number"], "closes_at": (clock.now() + timedelta(hours=2)).isoformat()},
        headers=convener["headers"],
    )
    assert ballot.status_code == 201, ballot.text
    consultation = await client.post(
        f"/api/v1/norms/{norm_id}/consultations",
        json={"version": 1, "closes_at": (clock.now() + timedelta(days=14)).isoformat(), "question": "Is this clear enough?"},
        headers=convener["headers"],
    )
    assert consultation.status_code == 201, consultation.text
    # Written by Dana: neither the member nor the convener of the matrix is its author.
    comment = await client.post(
        f"/api/v1/consultations/{consultation.json()['id']}/comments",
        json={"body": "Define ranking criteria."},
        headers=council["members"][3]["headers"],
    )
    assert comment.status_code == 201, comment.text

    # The drafting stage, by Dana too: a thread with its post, two pending suggestions (one to accept, one to
    # decline) and an open sense check.
    dana = council["members"][3]
    thread = await client.post(f"/api/v1/norms/{norm_id}/threads", json={"body": "Which criteria?"}, headers=dana["headers"])
    assert thread.status_code == 201, thread.text
    suggested = []
    for words, instead in (("Platforms", "Large platforms"), ("publish", "disclose")):
        text = (await client.get(f"/api/v1/norms/{norm_id}")).json()["text"]
        start = text.index(words)
        made = await client.post(
            f"/api/v1/norms/{norm_id}/suggestions",
            json={"passage": {"start": start, "end": start + len(words), "quote": words}, "replacement": instead},
            headers=dana["headers"],
        )
        assert made.status_code == 201, made.text
        suggested.append(made.json()["id"])
    sense = await client.post(f"/api/v1/norms/{norm_id}/sense-checks", json={"question": "Ready?"}, headers=convener["headers"])
    assert sense.status_code == 201, sense.text

    third = await client.post(f"/api/v1/norms/{norm_id}/versions", json={"label": "Third reading"}, headers=convener["headers"])
    assert third.status_code == 201, third.text
    head = (await client.get(f"/api/v1/norms/{norm_id}")).json()["heads"][0]

    # A network joined by application, founded by the convener, with one application pending.
    gated = await client.post(
        "/api/v1/networks",
        json={
            "name": "Gated network",
            "issue": "Who may join matters.",
            "aims": "Test applications.",
            "intended_outcome": "A norm.",
            "membership_policy": "by_application",
        },
        headers=convener["headers"],
    )
    assert gated.status_code == 201, gated.text
    applicant = await sign_up("Ines Applicant")
    affiliated = await client.put(
        "/api/v1/me/affiliation",
        json={"stakeholder_group": "government", "country": "FR", "organisation": "Ministry"},
        headers=applicant["headers"],
    )
    assert affiliated.status_code == 200, affiliated.text
    applied = await client.post(
        f"/api/v1/networks/{gated.json()['slug']}/join", json={"motivation": "I regulate platforms."}, headers=applicant["headers"]
    )
    assert applied.status_code in (200, 201, 202), applied.text
    applications = await client.get(f"/api/v1/networks/{gated.json()['slug']}/applications", headers=convener["headers"])
    assert applications.status_code == 200, applications.text
    [pending] = [item["id"] for item in applications.json()["items"]]

    participant = council["outsider"]  # signed up, affiliated with nothing, a member of nothing

    people = {
        "participant": participant,
        "member": member,
        "convener": convener,
        "staff": await _grant(client, app, await sign_up("Clara Curator"), Role.staff),
        "subscriber": await _grant(client, app, await sign_up("Ministère du Numérique"), Role.subscriber),
        "admin": await _grant(client, app, await sign_up("Ada Admin"), Role.admin),
    }
    topic = await client.post(
        "/api/v1/clearinghouse/topics", json={"slug": "transparency", "label": "Platform transparency"}, headers=people["staff"]["headers"]
    )
    assert topic.status_code == 201, topic.text
    collection = await client.post(
        "/api/v1/clearinghouse/collections",
        json={"slug": "recommenders", "title": "Recommender systems", "entries": [entry["id"]]},
        headers=people["staff"]["headers"],
    )
    assert collection.status_code == 201, collection.text
    # The member's notification of the ballot opened above: opening it is the member's alone (others land on their own list).
    notified = await client.get("/api/v1/me/notifications", headers=people["member"]["headers"])
    ids = {
        "notification_id": notified.json()["items"][0]["id"],
        "slug": council["slug"],
        "norm_id": norm_id,
        "norm_slug": council["norm"]["slug"],
        "number": 1,
        "ballot_id": ballot.json()["id"],
        "closed_ballot_id": adopted["id"],
        "consultation_id": consultation.json()["id"],
        "comment_id": comment.json()["id"],
        "thread_id": thread.json()["id"],
        "post_id": thread.json()["posts"][0]["id"],
        "suggestion_id": suggested[0],
        "declined_suggestion_id": suggested[1],
        "check_id": sense.json()["id"],
        "entry_id": entry["id"],
        "participant_id": participant["id"],
        "application_id": pending,
        "gated_slug": gated.json()["slug"],
        "third_version": third.json()["number"],
        "head": head,
        "appointee": council["members"][2]["id"],
        "second_appointee": council["members"][3]["id"],
        "topic_slug": "transparency",
        "collection_slug": "recommenders",
        "event_id": 999_999,  # no failed publication: staff are told so, others are refused first
    }
    return {"people": people, "ids": ids, "council": council}


async def sign_in(client, person: dict) -> dict:
    """Fresh bearer headers for `person` (after a logout revoked the old ones); with a recovery code for those
    who sign in with a second factor."""
    token = await client.post("/api/v1/auth/token", data={"username": person["email"], "password": PASSWORD})
    if "recovery_codes" in person:
        assert token.json()["code"] == "totp_required", token.text
        second = {"challenge": token.json()["challenge"], "recovery_code": person["recovery_codes"].pop()}
        token = await client.post("/api/v1/auth/token/totp", json=second)
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}
