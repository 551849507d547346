"""Suggested changes through the API: who may suggest, inline marks, accepting as the suggester's change,
declining, outdated passages and refreshing, limits; on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fixtures.accounts import affiliate
from tests.fixtures.norms import TEXT

PASSAGE = "ranking criteria"


def passage(text: str = TEXT, words: str = PASSAGE) -> dict:
    start = text.index(words)
    return {"start": start, "end": start + len(words), "quote": words}


async def suggest(client, norm, person, replacement, where=None, **extra):
    return await client.post(
        f"/api/v1/norms/{norm['id']}/suggestions",
        json={"passage": where or passage(), "replacement": replacement, **extra},
        headers=person["headers"],
    )


async def text_of(client, norm) -> str:
    return (await client.get(f"/api/v1/norms/{norm['id']}")).json()["text"]


async def authors_of(client, norm, words: str) -> set[str]:
    """Who wrote the characters of `words` in the current text, by "Who wrote what"."""
    text = await text_of(client, norm)
    start = text.index(words)
    spans = (await client.get(f"/api/v1/norms/{norm['id']}/authorship")).json()["spans"]
    return {s["participant"]["display_name"] for s in spans if s["start"] < start + len(words) and s["end"] > start}


async def test_a_non_member_suggests_during_a_consultation_and_a_member_accepts_it_credited_to_them(
    client, council, sign_up, open_consultation
):
    amina, bruno, *_ = council["members"]
    norm = council["norm"]
    olga = await affiliate(client, await sign_up("Olga"), "government", "FR", "Ministry")
    # Outside a consultation only members suggest.
    before = await suggest(client, norm, olga, "recommender criteria")
    assert before.status_code == 403 and before.json()["code"] == "not_a_member"
    consultation = await open_consultation()
    bare = await sign_up("Bare")
    assert (await suggest(client, norm, bare, "criteria")).json()["code"] == "affiliation_required"
    made = await suggest(client, norm, olga, "recommender criteria", note="Be specific")
    assert made.status_code == 201, made.text
    suggestion = made.json()
    assert suggestion["status"] == "pending" and suggestion["outdated"] is False
    assert suggestion["consultation_id"] == consultation["id"]
    # Inline marks, as the diff page shows them: what it inserts and deletes in the passage.
    assert [(m["op"], m["text"]) for m in suggestion["marks"]] == [("delete", "ranking"), ("insert", "recommender"), ("equal", " criteria")]
    # Only members decide.
    refused = await client.post(f"/api/v1/suggestions/{suggestion['id']}/accept", json={}, headers=olga["headers"])
    assert refused.status_code == 403
    accepted = await client.post(f"/api/v1/suggestions/{suggestion['id']}/accept", json={"reason": "Clearer"}, headers=bruno["headers"])
    assert accepted.status_code == 200, accepted.text
    done = accepted.json()
    assert done["status"] == "accepted" and done["decided_by"]["display_name"] == "Bruno" and len(done["changes"]) == 1
    assert await text_of(client, norm) == TEXT.replace(PASSAGE, "recommender criteria")
    # "Who wrote what" and the history credit Olga's words to Olga; the acceptance is in the audit log.
    assert await authors_of(client, norm, "recommender") == {"Olga"}
    history = (await client.get(f"/api/v1/norms/{norm['id']}/history")).json()["items"]
    assert history[0]["participant"]["display_name"] == "Olga" and history[0]["hash"] == done["changes"][0]
    [event] = [
        e
        for e in (await client.get("/api/v1/audit", params={"target_id": suggestion["id"]})).json()["items"]
        if e["action"] == "suggestion.accepted"
    ]
    assert event["payload"]["changes"] == done["changes"] and event["payload"]["suggester"] == olga["id"]
    # Decided once.
    again = await client.post(f"/api/v1/suggestions/{suggestion['id']}/accept", json={}, headers=amina["headers"])
    assert again.status_code == 409 and again.json()["code"] == "suggestion_decided"
    late = await client.post(f"/api/v1/suggestions/{suggestion['id']}/decline", json={"reason": "No"}, headers=amina["headers"])
    assert late.status_code == 409


async def test_an_outdated_suggestion_is_refused_until_its_author_refreshes_it(client, council):
    amina, bruno, chen, _ = council["members"]
    norm = council["norm"]
    suggestion = (await suggest(client, norm, chen, "ranking rules")).json()
    start = TEXT.index(PASSAGE)
    edited = await client.post(
        f"/api/v1/norms/{norm['id']}/edits",
        json={"splices": [{"index": start + 7, "delete": 0, "insert": " of"}]},
        headers=bruno["headers"],
    )
    assert edited.status_code == 200
    [listed] = (await client.get(f"/api/v1/norms/{norm['id']}/suggestions", params={"status": "pending"})).json()
    assert listed["outdated"] is True and listed["passage"]["state"] == "shifted"
    refused = await client.post(f"/api/v1/suggestions/{suggestion['id']}/accept", json={}, headers=amina["headers"])
    assert refused.status_code == 409 and refused.json()["code"] == "suggestion_outdated"
    assert refused.json()["current"] == "ranking of criteria"
    assert (await client.post(f"/api/v1/suggestions/{suggestion['id']}/refresh", json={}, headers=amina["headers"])).status_code == 403
    refreshed = await client.post(
        f"/api/v1/suggestions/{suggestion['id']}/refresh", json={"replacement": "ranking rules"}, headers=chen["headers"]
    )
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["outdated"] is False and refreshed.json()["passage"]["quote"] == "ranking of criteria"
    accepted = await client.post(f"/api/v1/suggestions/{suggestion['id']}/accept", json={}, headers=amina["headers"])
    assert accepted.status_code == 200, accepted.text
    assert await text_of(client, norm) == "Platforms publish their ranking rules."


async def test_bad_suggestions_and_declines(client, app, council):
    amina, bruno, *_ = council["members"]
    norm = council["norm"]
    # A quote that no longer matches: 409 with what is there now.
    stale = await suggest(client, norm, bruno, "x", where={"start": 0, "end": 9, "quote": "Companies"})
    assert stale.status_code == 409 and stale.json()["code"] == "passage_changed" and stale.json()["current"] == "Platforms"
    assert (await suggest(client, norm, bruno, "x", where={"start": 0, "end": 999})).status_code == 422
    assert (await suggest(client, norm, bruno, PASSAGE)).json()["code"] == "nothing_to_change"
    # Larger than an edit may be: 413, nothing stored.
    store = app.state.norm_store
    store.limits = dataclasses.replace(store.limits, max_ops=50)
    huge = await suggest(client, norm, bruno, "y" * 60)
    assert huge.status_code == 413 and huge.json()["code"] == "norm_too_large"
    assert (await client.get(f"/api/v1/norms/{norm['id']}/suggestions")).json() == []
    suggestion = (await suggest(client, norm, bruno, "criteria")).json()
    no_reason = await client.post(f"/api/v1/suggestions/{suggestion['id']}/decline", json={}, headers=amina["headers"])
    assert no_reason.status_code == 422
    declined = await client.post(
        f"/api/v1/suggestions/{suggestion['id']}/decline", json={"reason": "Keep ranking"}, headers=amina["headers"]
    )
    assert declined.json()["status"] == "declined" and declined.json()["reason"] == "Keep ranking"
    assert await text_of(client, norm) == TEXT
    events = (await client.get("/api/v1/audit", params={"target_id": suggestion["id"]})).json()["items"]
    assert {e["action"] for e in events} == {"suggestion.made", "suggestion.declined"}


SENTENCES = ["Alpha one.", "Beta two.", "Gamma three.", "Delta four.", "Epsilon five."]


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    plan=st.lists(st.booleans(), min_size=1, max_size=len(SENTENCES)).flatmap(
        lambda accepts: st.tuples(st.just(accepts), st.permutations(range(len(accepts))))
    )
)
async def test_property_accepting_in_any_order_leaves_each_accepted_insertion_once_and_no_declined_one(client, council, plan):
    accepts, order = plan
    members = council["members"]
    text = " ".join(SENTENCES)
    started = await client.post(
        f"/api/v1/networks/{council['slug']}/norms", json={"title": "Property", "text": text}, headers=members[0]["headers"]
    )
    assert started.status_code == 201, started.text
    norm = started.json()
    # One suggestion per sentence's number word, each inserting its own marker.
    made = []
    for index in range(len(accepts)):
        word = SENTENCES[index].split()[1].rstrip(".")
        response = await suggest(client, norm, members[1 + index % 3], f"ins{index}mark", where=passage(text, word))
        assert response.status_code == 201, response.text
        made.append(response.json()["id"])
    for index in order:
        decision = "accept" if accepts[index] else "decline"
        response = await client.post(
            f"/api/v1/suggestions/{made[index]}/{decision}", json={} if accepts[index] else {"reason": "No"}, headers=members[0]["headers"]
        )
        assert response.status_code == 200, response.text
    final = await text_of(client, norm)
    for index, accepted in enumerate(accepts):
        assert final.count(f"ins{index}mark") == (1 if accepted else 0), (final, plan)
