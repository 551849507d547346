"""Every relative link in the README and under docs/ leads somewhere: an existing file, and a
`#anchor` into a Markdown file names one of its headings (GitHub's slugs)."""

from __future__ import annotations

import re
from itertools import pairwise
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from markdown_it import MarkdownIt

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
MARKDOWN = MarkdownIt("commonmark").enable("table")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces made hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """The anchors GitHub gives the page's headings (a repeated slug gets -1, -2, …)."""
    found: set[str] = set()
    tokens = MARKDOWN.parse(page.read_text(encoding="utf-8"))
    for opening, inline in pairwise(tokens):
        if opening.type != "heading_open":
            continue
        text = "".join(child.content for child in inline.children if child.type in ("text", "code_inline"))
        base = anchor = slug(text)
        n = 0
        while anchor in found:
            n += 1
            anchor = f"{base}-{n}"
        found.add(anchor)
    return found


def links(page: Path) -> list[str]:
    """Link and image targets of the page, outside code."""
    targets = []
    for token in MARKDOWN.parse(page.read_text(encoding="utf-8")):
        for child in token.children or ():
            if child.type == "link_open":
                targets.append(child.attrs["href"])
            elif child.type == "image":
                targets.append(child.attrs["src"])
    return targets


def broken(page: Path) -> list[str]:
    """The page's relative links that name no file, or no heading of the file they name."""
    problems = []
    for target in links(page):
        parts = urlsplit(target)
        if parts.scheme or parts.netloc:
            continue
        path = unquote(parts.path)
        file = page if not path else (ROOT / path.lstrip("/") if path.startswith("/") else page.parent / path)
        if not file.exists():
            problems.append(f"{target}: no such file")
        elif parts.fragment and file.suffix == ".md" and unquote(parts.fragment) not in anchors(file):
            problems.append(f"{target}: no heading #{parts.fragment} in {file.relative_to(ROOT)}")
    return problems


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_relative_link_and_anchor_resolves(page):
    assert broken(page) == []


def test_the_readme_links_every_page_under_docs():
    linked = {(ROOT / urlsplit(target).path).resolve() for target in links(ROOT / "README.md")}
    # notes-*.md hold a change's notes until they are folded into the pages.
    pages = [page for page in PAGES[1:] if not page.name.startswith("notes-")]
    assert [page.name for page in pages if page.resolve() not in linked] == []


def test_a_broken_file_or_anchor_is_reported(tmp_path, monkeypatch):
    monkeypatch.setattr(f"{__name__}.ROOT", tmp_path)
    (tmp_path / "other.md").write_text("# The `cogov` command\n\n## Rate limits\n\n## Rate limits\n")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](other.md#the-cogov-command) [ok](other.md#rate-limits-1) [ok](#here) ![ok](other.md)\n"
        "[gone](missing.md) [bad](other.md#security) [bad](#nowhere) `[code](missing.md)`\n"
        "[web](https://example.org/x.md)\n\n## Here\n"
    )
    assert broken(page) == [
        "missing.md: no such file",
        "other.md#security: no heading #security in other.md",
        "#nowhere: no heading #nowhere in page.md",
    ]
