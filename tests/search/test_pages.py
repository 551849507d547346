"""The search pages work as plain HTML forms: `/search`, `/norms`, and the search box in every page's header."""

from __future__ import annotations

import re

import pytest

from tests.fixtures.databases import ON_SQLITE

pytestmark = ON_SQLITE


async def test_every_page_has_a_search_box_in_its_header(client, council):
    for path in ("/", "/networks", f"/networks/{council['slug']}", "/norms", "/search", "/clearinghouse", "/no-such-page"):
        page = await client.get(path)
        header = page.text.split("</header>")[0]
        assert re.search(r'<form class="site-search" method="get" action="/search" role="search"', header), path
        assert '<input id="site-search-q" name="q" type="search"' in header, path


async def test_search_page_shows_marked_results_linking_to_the_norm(client, council):
    page = await client.get("/search", params={"q": "ranking"})
    assert page.status_code == 200
    version = f"/networks/{council['slug']}/norms/{council['norm']['slug']}/versions/1"
    assert f'<a href="{version}" dir="auto">' in page.text
    assert "<mark>ranking</mark>" in page.text
    assert 'value="ranking"' in page.text  # the form shows the query back


async def test_search_page_escapes_what_people_type(client):
    page = await client.get("/search", params={"q": '<script>alert(1)</script> "'})
    assert page.status_code == 200
    assert "<script>alert(1)</script>" not in page.text
    assert "Nothing matches." in page.text


async def test_norms_directory_lists_norms_with_filters(client, council):
    page = await client.get("/norms")
    assert page.status_code == 200
    norm = f"/networks/{council['slug']}/norms/{council['norm']['slug']}"
    assert f'<a href="{norm}" dir="auto">' in page.text
    assert "/versions/1" not in page.text  # norms only
    drafting = await client.get("/norms", params={"status": "drafting", "group": "civil_society", "q": "recommender"})
    assert f'<a href="{norm}" dir="auto">' in drafting.text
    adopted = await client.get("/norms", params={"status": "adopted"})
    assert "Nothing matches." in adopted.text


@pytest.mark.parametrize(
    "params", [{"q": "x" * 501}, {"colour": "red"}, {"status": "dormant"}, {"language": "tlh"}, {"from": "yesterday"}, {"cursor": "??"}]
)
async def test_bad_input_is_a_422_page_that_keeps_the_form(client, params):
    for path in ("/search", "/norms"):
        page = await client.get(path, params=params)
        assert page.status_code == 422, (path, params)
        assert 'role="alert"' in page.text and '<form method="get" action="' in page.text
