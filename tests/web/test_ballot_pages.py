"""The ballot pages without a browser: the norm page's ballot list and open form, the ballot page's chart,
objections, votes and links, the vote form with CSRF and its errors on the page, closing, and the polled JSON."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import httpx

from tests.fixtures.accounts import PASSWORD


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


@asynccontextmanager
async def browser(app, person: dict | None = None) -> AsyncIterator[httpx.AsyncClient]:
    """A cookie session of its own, signed in as `person` through the sign-in form (or signed out)."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as http:
        if person is not None:
            token = _csrf((await http.get("/signin")).text)
            signed = await http.post("/signin", data={"csrf_token": token, "email": person["email"], "password": PASSWORD})
            assert signed.status_code == 303, signed.text
        yield http


def squash(html: str) -> str:
    """The page with its whitespace runs made single spaces, to read it as a person would."""
    return " ".join(html.split())


def norm_page(council: dict) -> str:
    return f"/networks/{council['slug']}/norms/{council['norm']['slug']}"


async def open_ballot(client, council, clock, *, version: int = 1, hours: int = 2) -> str:
    response = await client.post(
        f"/api/v1/norms/{council['norm']['id']}/ballots",
        json={"version": version, "closes_at": (clock.now() + timedelta(hours=hours)).isoformat()},
        headers=council["convener"]["headers"],
    )
    assert response.status_code == 201, response.text
    return f"{norm_page(council)}/ballots/{response.json()['id']}"


async def api_vote(client, person, page: str, position: str, reason: str | None = None) -> None:
    ballot_id = page.rsplit("/", 1)[1]
    body = {"position": position} | ({"reason": reason} if reason else {})
    response = await client.put(f"/api/v1/ballots/{ballot_id}/vote", json=body, headers=person["headers"])
    assert response.status_code == 200, response.text


async def test_a_convener_opens_a_ballot_from_the_norm_page_and_it_is_listed(app, council, clock):
    amina, bruno = council["members"][:2]
    async with browser(app, bruno) as member:
        assert "Open a ballot on a version" not in (await member.get(norm_page(council))).text
    async with browser(app, amina) as convener:
        page = await convener.get(norm_page(council))
        assert "No ballot yet." in page.text and "Open a ballot on a version" in page.text
        too_soon = (clock.now() + timedelta(minutes=20)).strftime("%Y-%m-%dT%H:%M")
        refused = await convener.post(
            f"{norm_page(council)}/ballots", data={"csrf_token": _csrf(page.text), "version": "1", "closes_at": too_soon}
        )
        # Refused on the norm page itself: the form open, what was typed kept, the message beside the field.
        assert refused.status_code == 422
        assert '<details class="panel" id="open-ballot" open>' in refused.text and f'value="{too_soon}"' in refused.text
        assert "A ballot stays open at least 1 hour (the charter" in refused.text and 'id="ballot-closes-error"' in refused.text
        closes = (clock.now() + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M")
        opened = await convener.post(
            f"{norm_page(council)}/ballots", data={"csrf_token": _csrf(page.text), "version": "1", "closes_at": closes}
        )
        assert opened.status_code == 303
        assert re.fullmatch(rf"{norm_page(council)}/ballots/[0-9a-f-]{{36}}", opened.headers["location"])
        ballot = await convener.get(opened.headers["location"])
        assert "The ballot on v1 is open" in ballot.text
        listed = squash((await convener.get(norm_page(council))).text)
        assert "Ballot on v1</a> — open until" in listed and "0 of 4 voted" in listed
        assert "Open a ballot on a version" not in listed  # one open ballot at a time


async def test_the_ballot_page_shows_tallies_objections_votes_and_what_is_missing(app, client, council, clock):
    page = await open_ballot(client, council, clock)
    amina, bruno = council["members"][:2]
    async with browser(app) as visitor:
        start = squash((await visitor.get(page)).text).split('id="missing"')[1].split("</ul>")[0]
    # A four-person ballot starts with one need, not a line per tally and shortfall.
    assert re.findall(r"<li>(.*?)</li>", start) == [
        "Amina (Civil society), Dana (Civil society), Bruno (Private sector) and Chen (Technical and academic community),"
        " who have not voted yet, must all approve."
    ]
    await api_vote(client, amina, page, "approve")
    await api_vote(client, bruno, page, "object", "Ranking criteria are trade secrets.")
    async with browser(app) as visitor:
        html = squash((await visitor.get(page)).text)
    assert "If it closed now: <strong>not adopted</strong>" in html
    assert "2 of 4 electors have voted." in html
    # One bar per group and per region, each saying in words whether it passes.
    assert len(re.findall(r'data-tally="group:', html)) == 3 and len(re.findall(r'data-tally="region:', html)) == 4
    civil = html.split('data-tally="group:civil_society"')[1].split("</li>")[0]
    assert "Civil society" in civil and "✓ Passes" in civil and "1 of 2 voted; quorum needs 1" in civil
    private = html.split('data-tally="group:private_sector"')[1].split("</li>")[0]
    assert "✗" in private and "0 approving, 1 objecting, 0 abstaining" in private
    # The missing list in words, with names rather than codes.
    missing = html.split('id="missing"')[1].split("</ul>")[0]
    assert "Private sector" in missing and "private_sector" not in missing
    # Only what this electorate can still do, each need once: Bruno is private sector's only elector and objects.
    needs = re.findall(r"<li>(.*?)</li>", missing)
    assert needs == [
        "Dana (Civil society) and Chen (Technical and academic community), who have not voted yet, must all approve.",
        "Private sector and Latin America and the Caribbean cannot pass with the votes still to come (their only elector,"
        " Bruno, objects); Bruno changing an objection to an approval would let them pass.",
    ]
    assert "more organisation" not in html
    objections = html.split('id="objections"')[1].split("</section>")[0]
    assert "Bruno" in objections and "Ranking criteria are trade secrets." in objections and "Rede Aberta" in objections
    votes = html.split('id="votes"')[1].split("</section>")[0]
    assert "Amina" in votes and "Digital Rights Kenya" in votes and "Approve" in votes and "Object" in votes
    assert "Yet to vote: " in votes and "Chen" in votes and "Dana" in votes
    assert f'href="{norm_page(council)}/versions/1"' in html and "no version was adopted before" in html
    assert "Sign in</a> to vote" in html and 'action="' not in html.split('id="vote"')[1]
    assert f'data-live-url="{page}/live"' in html


async def test_an_elector_votes_with_the_form_and_errors_show_on_the_page(app, client, council, clock):
    page = await open_ballot(client, council, clock)
    amina = council["members"][0]
    async with browser(app, amina) as elector:
        token = _csrf((await elector.get(page)).text)
        without_token = await elector.post(f"{page}/vote", data={"position": "approve"})
        assert without_token.status_code == 403
        no_reason = await elector.post(f"{page}/vote", data={"csrf_token": token, "position": "object", "reason": "  "})
        assert no_reason.status_code == 422
        assert "An objection needs a reason" in no_reason.text and 'aria-invalid="true"' in no_reason.text
        assert 'value="object" id="position-object" checked' in no_reason.text  # what was chosen stays chosen
        no_position = await elector.post(f"{page}/vote", data={"csrf_token": token, "reason": "Hm"})
        assert no_position.status_code == 422 and "Choose approve, object or abstain" in no_position.text
        unknown = await elector.post(f"{page}/vote", data={"csrf_token": token, "position": "veto"})
        assert unknown.status_code == 422 and "Choose approve, object or abstain" in unknown.text
        assert (await client.get(f"/api/v1/ballots/{page.rsplit('/', 1)[1]}")).json()["voted"] == 0

        cast = await elector.post(f"{page}/vote", data={"csrf_token": token, "position": "object", "reason": "Too vague."})
        assert cast.status_code == 303 and cast.headers["location"] == page
        shown = squash((await elector.get(page)).text)
        assert "Your objection is counted" in shown and "You voted <strong>object</strong>" in shown
        assert "Too vague." in shown.split('id="objections"')[1] and "Change my vote" in shown
        changed = await elector.post(f"{page}/vote", data={"csrf_token": token, "position": "approve", "reason": ""})
        assert changed.status_code == 303
        shown = squash((await elector.get(page)).text)
        assert "You voted <strong>approve</strong>" in shown and "No objection yet." in shown and "(changed)" in shown

    async with browser(app, council["outsider"]) as outsider:
        html = (await outsider.get(page)).text
        assert "you can follow it here" in html and 'name="position"' not in html
        refused = await outsider.post(f"{page}/vote", data={"csrf_token": _csrf(html), "position": "approve"})
        assert refused.status_code == 403 and "Only the members on the roster" in refused.text


async def test_the_live_json_carries_the_tallies_as_html_and_is_not_sent_again_unchanged(app, client, council, clock):
    page = await open_ballot(client, council, clock)
    async with browser(app) as visitor:
        first = await visitor.get(f"{page}/live")
        before = first.json()
        etag = first.headers["etag"]
        assert first.headers["cache-control"] == "private, no-cache"
        # The page polls with the tag it holds: nothing changed, so no tallies are sent again.
        unchanged = await visitor.get(f"{page}/live", headers={"If-None-Match": etag})
        assert unchanged.status_code == 304 and unchanged.content == b"" and unchanged.headers["etag"] == etag
        await api_vote(client, council["members"][2], page, "abstain")
        changed = await visitor.get(f"{page}/live", headers={"If-None-Match": etag})
        assert changed.status_code == 200 and changed.headers["etag"] != etag
        after = changed.json()
    assert (before["status"], before["voted"], before["electors"]) == ("open", 0, 4)
    assert after["voted"] == 1 and "Chen" in after["html"] and "1 of 4 electors have voted." in after["html"]
    assert "<html" not in after["html"]


async def test_a_convener_closes_when_allowed_and_the_record_stays(app, client, council, clock):
    page = await open_ballot(client, council, clock, hours=48)
    async with browser(app, council["convener"]) as convener:
        html = (await convener.get(page)).text
        assert "Conveners can close it from" in html and "Close the ballot now" not in html
        clock.advance(hours=1, seconds=1)
        html = (await convener.get(page)).text
        closed = await convener.post(f"{page}/close", data={"csrf_token": _csrf(html)})
        assert closed.status_code == 303
        html = squash((await convener.get(page)).text)
    assert "The ballot is closed" in html and ">Closed<" in html and "<strong>Not adopted</strong>" in html
    assert "by a convener: Amina" in html and "Did not vote: " in html
    assert 'name="position"' not in html and "ballot.js" not in html and "data-live-url" not in html
    async with browser(app, council["members"][1]) as member:
        assert "Close the ballot" not in (await member.get(page)).text


async def test_after_adoption_members_still_edit_and_the_next_ballot_links_the_diff(app, client, council, clock):
    page = await open_ballot(client, council, clock)
    for person in council["members"]:
        await api_vote(client, person, page, "approve")
    async with browser(app, council["members"][1]) as member:
        html = squash((await member.get(page)).text)
        assert "<strong>Adopted</strong>: v1 is the norm in force." in html
        norm = squash((await member.get(norm_page(council))).text)
        assert ">Adopted<" in norm and "Ballot on v1</a> — closed" in norm and "adopted" in norm.split('id="ballots"')[1]
        # Editing goes on in the working draft after adoption.
        assert "You are a member: you can edit the working draft. Edits make a new draft" in norm and 'id="plain-edit"' in norm
        edited = await member.post(
            f"{norm_page(council)}/edit",
            data={"csrf_token": _csrf(norm), "title": "", "text": "Platforms publish their ranking criteria yearly."},
        )
        assert edited.status_code == 303
        assert "Your edit is saved" in (await member.get(edited.headers["location"])).text
    tagged = await client.post(
        f"/api/v1/norms/{council['norm']['id']}/versions", json={"label": "Yearly"}, headers=council["convener"]["headers"]
    )
    assert tagged.status_code == 201, tagged.text
    second = await open_ballot(client, council, clock, version=2)
    async with browser(app) as visitor:
        html = squash((await visitor.get(second)).text)
    assert f'href="{norm_page(council)}/diff?from=1&amp;to=2"' in html and "Changes from v1, the version adopted before" in html
