"""Consultations: opening, comments with anchors, replies, resolutions, moderation, summary, and bad input."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.fixtures.accounts import affiliate
from tests.fixtures.norms import TEXT


async def _comment(client, consultation, person, body="Define ranking criteria.", anchor=None):
    payload = {"body": body} | ({"anchor": anchor} if anchor else {})
    return await client.post(f"/api/v1/consultations/{consultation['id']}/comments", json=payload, headers=person["headers"])


async def test_convener_opens_and_anyone_affiliated_comments_on_a_passage(client, council, consultation, sign_up):
    assert consultation["status"] == "open" and consultation["version"] == 1 and consultation["summary"] is None
    outsider = await affiliate(client, await sign_up("Gov Official"), "government", "FR", "Ministère du Numérique")
    start = TEXT.index("ranking criteria")
    made = await _comment(client, consultation, outsider, anchor={"start": start, "end": start + 16, "quote": "ranking criteria"})
    assert made.status_code == 201, made.text
    comment = made.json()
    assert comment["anchor"] == {"start": start, "end": start + 16, "quote": "ranking criteria"}
    assert (comment["stakeholder_group"], comment["region"], comment["country"]) == ("government", "western_europe_others", "FR")
    assert comment["status"] == "open"
    listed = await client.get("/api/v1/consultations", params={"status": "open"})
    assert [c["id"] for c in listed.json()] == [consultation["id"]]
    assert listed.json()[0]["comment_count"] == 1
    events = (await client.get("/api/v1/audit", params={"target_id": comment["id"]})).json()["items"]
    assert events[0]["action"] == "consultation.commented"


async def test_members_reply_and_resolve_and_the_summary_counts_after_close(client, council, consultation, sign_up, clock):
    gov = await affiliate(client, await sign_up("Gov"), "government", "FR")
    ngo = await affiliate(client, await sign_up("Ngo"), "civil_society", "KE", "Rights Watch")
    biz = await affiliate(client, await sign_up("Biz"), "private_sector", "BR", None)
    ids = [(await _comment(client, consultation, person, f"comment {n}")).json()["id"] for n, person in enumerate((gov, ngo, biz))]
    member = council["members"][1]
    replied = await client.post(f"/api/v1/comments/{ids[0]}/replies", json={"body": "Thanks, see v2."}, headers=member["headers"])
    assert replied.status_code == 201 and replied.json()["replies"][0]["body"] == "Thanks, see v2."
    edited = await client.post(
        f"/api/v1/norms/{council['norm']['id']}/edits",
        json={"splices": [{"index": len(TEXT), "delete": 0, "insert": " Yearly."}]},
        headers=member["headers"],
    )
    assert edited.status_code == 200, edited.text
    v2 = await client.post(
        f"/api/v1/norms/{council['norm']['id']}/versions", json={"label": "After consultation"}, headers=member["headers"]
    )
    assert v2.status_code == 201
    addressed = await client.put(
        f"/api/v1/comments/{ids[0]}/resolution", json={"status": "addressed", "version": 2}, headers=member["headers"]
    )
    assert addressed.status_code == 200 and addressed.json()["addressed_in_version"] == 2
    declined = await client.put(
        f"/api/v1/comments/{ids[1]}/resolution", json={"status": "declined", "reason": "Out of scope"}, headers=member["headers"]
    )
    assert declined.json()["status"] == "declined" and declined.json()["decline_reason"] == "Out of scope"
    clock.advance(timedelta(days=15))
    closed = (await client.get(f"/api/v1/consultations/{consultation['id']}")).json()
    assert closed["status"] == "closed"
    assert closed["summary"] == {
        "comments": 3,
        "by_group": {"government": 1, "civil_society": 1, "private_sector": 1},
        "by_region": {"western_europe_others": 1, "africa": 1, "latin_america_caribbean": 1},
        "by_status": {"open": 1, "addressed": 1, "declined": 1},
        "hidden": 0,
    }
    late = await _comment(client, consultation, gov, "too late")
    assert late.status_code == 409 and late.json()["code"] == "consultation_closed"


async def test_conveners_hide_abuse_with_a_public_reason_and_the_audit_log_keeps_it(client, council, consultation, sign_up):
    troll = await affiliate(client, await sign_up("Troll"))
    comment = (await _comment(client, consultation, troll, "You are all idiots")).json()
    refused = await client.post(
        f"/api/v1/comments/{comment['id']}/hide", json={"reason": "Abusive"}, headers=council["members"][1]["headers"]
    )
    assert refused.status_code == 403
    hidden = await client.post(f"/api/v1/comments/{comment['id']}/hide", json={"reason": "Abusive"}, headers=council["convener"]["headers"])
    assert hidden.status_code == 200
    [shown] = (await client.get(f"/api/v1/consultations/{consultation['id']}/comments")).json()
    assert shown["hidden"] is True and shown["body"] is None and shown["hidden_reason"] == "Abusive"
    events = (await client.get("/api/v1/audit", params={"target_id": comment["id"]})).json()["items"]
    assert {e["action"] for e in events} == {"consultation.commented", "consultation.comment_hidden"}
    assert any(e["payload"].get("body") == "You are all idiots" for e in events)


async def test_bad_input(client, council, consultation, sign_up, clock):
    outsider = await affiliate(client, await sign_up("Out"))
    url = f"/api/v1/norms/{council['norm']['id']}/consultations"
    closes = (clock.now() + timedelta(days=3)).isoformat()
    # Only conveners open; a version must exist; closes_at in the future.
    assert (
        await client.post(url, json={"version": 1, "closes_at": closes, "question": "?"}, headers=outsider["headers"])
    ).status_code == 403
    assert (
        await client.post(url, json={"version": 9, "closes_at": closes, "question": "?"}, headers=council["convener"]["headers"])
    ).status_code == 404
    past = (clock.now() - timedelta(days=1)).isoformat()
    assert (
        await client.post(url, json={"version": 1, "closes_at": past, "question": "?"}, headers=council["convener"]["headers"])
    ).status_code == 422
    # Anchors outside the text, reversed, or quoting something else.
    for anchor in ({"start": 0, "end": len(TEXT) + 1}, {"start": 5, "end": 5}, {"start": 0, "end": 9, "quote": "Companies"}):
        answer = await _comment(client, consultation, outsider, anchor=anchor)
        assert answer.status_code == 422, (anchor, answer.text)
        assert answer.json()["detail"]
    # Oversized, empty or NUL bodies.
    assert (await _comment(client, consultation, outsider, "x" * 10_001)).status_code == 422
    assert (await _comment(client, consultation, outsider, "")).status_code == 422
    assert (await _comment(client, consultation, outsider, "a\x00b")).status_code == 422
    # Without an affiliation, or signed out.
    bare = await sign_up("Bare")
    assert (await _comment(client, consultation, bare)).json()["code"] == "affiliation_required"
    assert (await client.post(f"/api/v1/consultations/{consultation['id']}/comments", json={"body": "hi"})).status_code == 401
    # Replies and resolutions by non-members; bad resolutions.
    comment = (await _comment(client, consultation, outsider)).json()
    assert (
        await client.post(f"/api/v1/comments/{comment['id']}/replies", json={"body": "me too"}, headers=outsider["headers"])
    ).status_code == 403
    put = lambda body, who: client.put(f"/api/v1/comments/{comment['id']}/resolution", json=body, headers=who["headers"])  # noqa: E731
    assert (await put({"status": "addressed", "version": 1}, outsider)).status_code == 403
    member = council["members"][2]
    assert (await put({"status": "addressed"}, member)).status_code == 422
    assert (await put({"status": "declined"}, member)).status_code == 422
    assert (await put({"status": "done"}, member)).status_code == 422
    assert (await put({"status": "addressed", "version": 7}, member)).status_code == 404
    assert (await client.get("/api/v1/consultations/00000000-0000-0000-0000-000000000000")).status_code == 404


async def test_one_concept_one_answer_wherever_membership_is_checked(client, council, consultation, sign_up):
    """A non-member and a non-convener are refused with one status and one code across networks, norms and consultations."""
    outsider = await affiliate(client, await sign_up("Outsider"))
    member = council["members"][1]
    comment = (await _comment(client, consultation, outsider, "Please define criteria.")).json()
    norm = council["norm"]
    slug = council["slug"]

    not_members = {
        "edit": await client.post(
            f"/api/v1/norms/{norm['id']}/edits", json={"splices": [{"index": 0, "delete": 0, "insert": "X"}]}, headers=outsider["headers"]
        ),
        "tag": await client.post(f"/api/v1/norms/{norm['id']}/versions", json={"label": "mine"}, headers=outsider["headers"]),
        "reply": await client.post(f"/api/v1/comments/{comment['id']}/replies", json={"body": "Me too"}, headers=outsider["headers"]),
        "leave": await client.post(f"/api/v1/networks/{slug}/leave", headers=outsider["headers"]),
    }
    assert {act: (r.status_code, r.json()["code"]) for act, r in not_members.items()} == {act: (403, "not_a_member") for act in not_members}

    not_conveners = {
        "hide": await client.post(f"/api/v1/comments/{comment['id']}/hide", json={"reason": "Abusive"}, headers=member["headers"]),
        "ballot": await client.post(
            f"/api/v1/norms/{norm['id']}/ballots", json={"version": 1, "closes_at": consultation["closes_at"]}, headers=member["headers"]
        ),
        "appoint": await client.post(
            f"/api/v1/networks/{slug}/conveners", json={"participant_id": member["id"]}, headers=member["headers"]
        ),
    }
    assert {act: (r.status_code, r.json()["code"]) for act, r in not_conveners.items()} == {
        act: (403, "not_convener") for act in not_conveners
    }


@pytest.mark.parametrize("blank", [" ", "   \n\t ", "\r\n"])
async def test_text_of_only_spaces_is_refused_wherever_people_write(client, council, consultation, sign_up, blank):
    outsider = await affiliate(client, await sign_up("Outsider"), "government", "FR")
    comment = (await _comment(client, consultation, outsider, "A real comment.")).json()
    member, convener = council["members"][1], council["convener"]
    refused = {
        "comment": await _comment(client, consultation, outsider, blank),
        "reply": await client.post(f"/api/v1/comments/{comment['id']}/replies", json={"body": blank}, headers=member["headers"]),
        "hide": await client.post(f"/api/v1/comments/{comment['id']}/hide", json={"reason": blank}, headers=convener["headers"]),
    }
    assert {name: answer.status_code for name, answer in refused.items()} == {"comment": 422, "reply": 422, "hide": 422}
    shown = (await client.get(f"/api/v1/consultations/{consultation['id']}/comments")).json()
    assert [(c["body"], c["replies"]) for c in shown] == [("A real comment.", [])]
