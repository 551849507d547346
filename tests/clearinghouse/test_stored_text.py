"""A stored text holding characters XML cannot carry (an old row, a restored backup) never breaks a feed, an export,
a WebSub delivery, a page, or the publication of the norms adopted after it."""

from __future__ import annotations

import hashlib
import html
import json
import re
import uuid
from datetime import UTC, datetime, timedelta

import feedparser
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from lxml import etree
from sqlalchemy import update

from norms import document
from norms.consultation_models import Consultation
from norms.consultation_schemas import ConsultationOut
from norms.models import ActorBinding, Norm, NormChange
from norms.schemas import PersonRef
from norms.store import new_actor
from norms.writes import _row_values
from services.clearinghouse import consultation_feed, exports, feeds, signing
from services.clearinghouse.entries import EntryView
from services.clearinghouse.models import EntryCuration, FeedEntry, Topic
from services.kit.db import transaction
from services.kit.xmltext import REPLACEMENT, xml_text
from tests.clearinghouse import jsonfeed
from tests.clearinghouse.test_pages import as_browser
from tests.clearinghouse.test_websub import subscribed
from tests.fixtures.clearinghouse import adopt
from tests.fixtures.norms import TEXT, member_id

BASE = "http://127.0.0.1:8000"
# Characters XML 1.0 has no way to carry (C0 controls but tab, newline and return; U+FFFE), and some it can.
ODD = "\x01\x08\x0b\x0c\x1b\x1f\ufffe"
STORED = f"Platforms{ODD} publish\ttheir ranking\r\ncriteria.\x7f\x85 \U0001f4dc"
SAFE = "Platforms" + REPLACEMENT * len(ODD) + " publish\ttheir ranking\r\ncriteria.\x7f\x85 \U0001f4dc"


async def store_below_the_api(app, council: dict, text: str) -> None:
    """Replace the norm's text by one change written straight into `norm_changes`, as a restored backup holds it."""
    norm_id = uuid.UUID(council["norm"]["id"])
    participant = member_id(council, 0)
    async with transaction(app.state.sessionmaker) as session:
        norm = await session.get(Norm, norm_id)
        async with app.state.norm_store.reading(norm.document_id, session=session) as resident:
            doc = resident.fork()
        old = document.read_text(doc)
        actor = new_actor()
        made = document.apply_splices(doc, actor, [(0, len(old), text)])
        changes = document.split_changes(b"".join(made))
        session.add(ActorBinding(actor=actor, participant_id=participant))
        await session.flush()
        stats = [document.ChangeStats(len(text), len(old))] * len(changes)
        await session.execute(NormChange.__table__.insert(), _row_values(norm.document_id, participant, changes, stats))
        norm.change_count += len(changes)


async def adopt_stored_text(client, app, council, clock) -> dict:
    """Tag the stored text as version 2 and adopt it through a real ballot."""
    await store_below_the_api(app, council, STORED)
    tagged = await client.post(
        f"/api/v1/norms/{council['norm']['id']}/versions", json={"label": "Imported"}, headers=council["convener"]["headers"]
    )
    assert tagged.status_code == 201, tagged.text
    clock.advance(hours=3)
    return await adopt(client, council, clock, version=2)


ATOM = "{http://www.w3.org/2005/Atom}"


def atom_contents(body: bytes) -> list[str]:
    """The text of each entry of a well-formed Atom document that feedparser also reads without complaint."""
    feed = feedparser.parse(body)
    assert feed.bozo == 0, feed.get("bozo_exception")
    return [element.text or "" for element in etree.fromstring(body).iter(f"{ATOM}content")]


async def test_a_stored_text_with_control_characters_is_published_and_every_feed_and_export_answers(
    client, app, council, clock, worker, subscriber, staff
):
    await subscribed(client, worker, subscriber.url("/atom"))
    await subscribed(client, worker, subscriber.url("/json"), f"{BASE}/feeds/norms.json")
    ballot = await adopt_stored_text(client, app, council, clock)
    assert ballot["version"]["text_sha256"] == hashlib.sha256(STORED.encode()).hexdigest()

    await worker.run_once()  # publishes, then delivers to both subscribers
    [entry] = (await client.get("/api/v1/clearinghouse/entries")).json()["items"]
    # JSON carries the exact text, and the signed record still verifies against it.
    assert entry["text"] == STORED
    assert entry["record"]["text_sha256"] == hashlib.sha256(entry["text"].encode()).hexdigest()
    assert signing.verify_entry(entry, (await client.get("/.well-known/cogov-keys.json")).json())
    delivered = {d.path: d for d in subscriber.accepted()}
    assert atom_contents(delivered["/atom"].body) == [SAFE]
    assert [item["content_text"] for item in json.loads(delivered["/json"].body)["items"]] == [STORED]

    made = await client.post(
        "/api/v1/clearinghouse/collections", json={"title": "Imported", "entries": [entry["id"]]}, headers=staff["headers"]
    )
    assert made.status_code == 201, made.text
    for path in ("/feeds/norms.atom", "/feeds/collections/imported.atom"):
        answer = await client.get(path)
        assert answer.status_code == 200, (path, answer.text)
        assert atom_contents(answer.content) == [SAFE], path
    for path in ("/feeds/norms.json", "/feeds/collections/imported.json"):
        answer = await client.get(path)
        assert answer.status_code == 200, (path, answer.text)
        assert jsonfeed.problems(answer.json()) == []
        assert [item["content_text"] for item in answer.json()["items"]] == [STORED], path

    akn = await client.get(f"/api/v1/clearinghouse/entries/{entry['id']}/akn.xml")
    assert akn.status_code == 200, akn.text
    assert exports.akn_errors(akn.content) == []
    tree = etree.fromstring(akn.content)
    ns = {"a": exports.AKN_NS, "c": exports.COGOV_NS}
    assert exports.text_of_akn(akn.content) == xml_text(STORED)
    # The signed record inside is exact JSON, whatever its strings hold.
    assert json.loads(tree.xpath("//c:adoptionRecord/text()", namespaces=ns)[0]) == entry["record"]
    markdown = await client.get(f"/api/v1/clearinghouse/entries/{entry['id']}.md")
    assert markdown.status_code == 200 and f"Platforms{ODD[:2]}" in markdown.text
    text = await client.get(f"/api/v1/clearinghouse/entries/{entry['id']}.txt")
    assert text.status_code == 200 and STORED in text.text

    page = await client.get(entry["permalink"].removeprefix(BASE))
    assert page.status_code == 200 and "ranking" in html.unescape(page.text)
    as_browser(client, staff)
    assert (await client.get("/clearinghouse/staff")).status_code == 200
    assert (await client.get(f"/clearinghouse/staff/entries/{entry['id']}")).status_code == 200


async def test_norms_adopted_after_a_stored_text_with_control_characters_reach_an_atom_subscriber(
    client, app, council, clock, worker, subscriber
):
    await adopt_stored_text(client, app, council, clock)
    assert await worker.publish_pending() == 1  # nobody subscribed yet: no feed was rendered
    await subscribed(client, worker, subscriber.url())

    edited = await client.post(
        f"/api/v1/norms/{council['norm']['id']}/edits",
        json={"splices": [{"index": 0, "delete": len(STORED), "insert": TEXT}]},
        headers=council["convener"]["headers"],
    )
    assert edited.status_code == 200, edited.text
    tagged = await client.post(
        f"/api/v1/norms/{council['norm']['id']}/versions", json={"label": "Clean"}, headers=council["convener"]["headers"]
    )
    assert tagged.status_code == 201, tagged.text
    clock.advance(hours=3)
    await adopt(client, council, clock, version=3)

    await worker.run_once()
    newest, imported = (await client.get("/api/v1/clearinghouse/entries")).json()["items"]
    assert (newest["version"], imported["version"]) == (3, 2)
    [received] = subscriber.accepted()
    assert atom_contents(received.body) == [TEXT, SAFE]


async def test_the_consultation_feed_answers_whatever_a_stored_question_holds(client, app, council, clock):
    opened = await client.post(
        f"/api/v1/norms/{council['norm']['id']}/consultations",
        json={"version": 1, "closes_at": (clock.now() + timedelta(days=14)).isoformat(), "question": "Clear enough?"},
        headers=council["convener"]["headers"],
    )
    assert opened.status_code == 201, opened.text
    async with transaction(app.state.sessionmaker) as session:
        await session.execute(update(Consultation).values(question=f"Clear{ODD} enough?"))
    atom = await client.get("/feeds/consultations.atom")
    assert atom.status_code == 200, atom.text
    [content] = atom_contents(atom.content)
    assert content.startswith("Clear" + REPLACEMENT * len(ODD) + " enough?")
    as_json = await client.get("/feeds/consultations.json")
    assert as_json.status_code == 200 and as_json.json()["items"][0]["content_text"].startswith(f"Clear{ODD} enough?")


# --- The renderers, over any text --------------------------------------------------------------

# Any character a store can hold (UTF-8: no lone surrogates), those XML cannot carry (NUL included) drawn often.
any_text = st.text(st.one_of(st.characters(exclude_categories=["Cs"]), st.sampled_from([*ODD, "\x00", "\uffff", "\r"])), max_size=30)
NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def entry_view(title: str, text: str, network_name: str, summary: str, label: str) -> EntryView:
    entry = FeedEntry(
        id=uuid.uuid4(),
        seq=1,
        urn="urn:cogov:norm:net:norm:v1",
        network_slug="net",
        norm_slug="norm",
        version_number=1,
        title=title,
        text=text,
        adopted_at=NOW,
        published_at=NOW,
        kid="kid",
        signature="sig",
        record={"title": title, "network": {"name": network_name}, "text_sha256": hashlib.sha256(text.encode()).hexdigest()},
    )
    topic = Topic(slug="topic", label=label, description="")
    return EntryView(entry, network_name, EntryCuration(entry_id=entry.id, summary=summary or None), [topic])


@hypothesis_settings(max_examples=150, deadline=None)
@given(title=any_text, text=any_text, network_name=any_text, summary=any_text, label=any_text, feed_title=any_text.filter(bool))
def test_every_xml_document_is_well_formed_and_json_exact_whatever_the_stored_text(title, text, network_name, summary, label, feed_title):
    view = entry_view(title, text, network_name, summary, label)
    meta = feeds.FeedMeta(feed_title, feed_title, "http://x/feeds/norms.atom", "http://x/clearinghouse", "http://x/websub", NOW)
    assert [c.text or "" for c in etree.fromstring(feeds.atom(meta, [view], "http://x")).iter(f"{ATOM}content")] == [xml_text(text)]
    assert json.loads(feeds.json_feed(meta, [view], "http://x"))["items"][0]["content_text"] == text

    akn = etree.fromstring(exports.akn(view, "http://x", NOW))
    record = akn.find(f".//{{{exports.COGOV_NS}}}adoptionRecord").text
    assert json.loads(record) == view.entry.record

    consultation = ConsultationOut(
        id=uuid.uuid4(),
        norm_id=uuid.uuid4(),
        norm_title=title,
        network="net",
        version=1,
        question=text,
        opened_by=PersonRef(id=uuid.uuid4(), display_name=network_name),
        opened_at=NOW,
        closes_at=NOW + timedelta(days=1),
        closed_at=None,
        status="open",
        comment_count=0,
        url="http://x/c",
        summary=None,
    )
    etree.fromstring(consultation_feed.atom([consultation], "http://x"))
    assert json.loads(consultation_feed.json_feed([consultation], "http://x"))["items"][0]["content_text"].startswith(text)


@given(st.text(st.one_of(st.characters(codec=None), st.sampled_from(["\x00", "\ud800", "\uffff", "\ufffe", "\x0b"])), max_size=60))
def test_xml_text_changes_only_what_xml_cannot_carry(value):
    safe = xml_text(value)
    assert len(safe) == len(value)
    element = etree.Element("p")
    element.text = safe  # lxml refuses any character XML 1.0 cannot carry
    etree.fromstring(etree.tostring(element, encoding="UTF-8"))
    for before, after in zip(value, safe, strict=True):
        assert after == before or (after == REPLACEMENT and re.fullmatch(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]", before))
