"""The folding, query and snippet rules of services/search/text.py: examples, then properties on a real FTS5 index."""

from __future__ import annotations

import re
import sqlite3

from hypothesis import given, settings
from hypothesis import strategies as st

from services.search.text import fts5_match, guess_language, index_text, parse_query, snippet, tsquery


def test_folding_examples():
    assert index_text("Données à l'Étranger") == "donnees a l etranger"
    assert index_text("ЗАЩИТА Данных") == "защита данных"
    assert index_text("البَيَانَاتِ") == index_text("البيانات")
    assert index_text("أمن إقليمي") == "امن اقليمي"
    assert index_text("数据本地化") == "数据 据本 本地 地化 化"
    assert index_text("ＲＰＫＩ-based") == "rpki based"


def test_query_examples():
    query = parse_query('"route origin" -hijack rpk* 本地化 "unbalanced')
    assert fts5_match(query) == '"route origin" AND "rpk"* AND "本地 地化" AND "unbalanced"'
    assert tsquery(query) == "('route' <-> 'origin') & ('rpk':*) & ('本地' <-> '地化') & ('unbalanced')"
    assert [t.words for t in query.negative] == [("hijack",)]
    assert not parse_query("-only -exclusions")
    assert not parse_query("  ")


def test_languages_examples():
    assert guess_language("各国应当就数据本地化要求进行协商") == "zh"
    assert guess_language("حماية البيانات الشخصية") == "ar"
    assert guess_language("Защита персональных данных") == "ru"
    assert guess_language("The operators publish the routes of the network") == "en"
    assert guess_language("Les données et la protection des personnes") == "fr"
    assert guess_language("Los datos y la protección de las personas") == "es"
    assert guess_language("RPKI") is None


def test_snippet_marks_words_and_escapes_the_rest():
    assert snippet("a <b>Données</b> & co", parse_query("donnees")) == "a &lt;b&gt;<mark>Données</mark>&lt;/b&gt; &amp; co"
    long = "word " * 100 + "needle here"
    assert snippet(long, parse_query("needle")).startswith("…")
    assert "<mark>needle</mark>" in snippet(long, parse_query("needle"))


# The scripts of the six UN languages, with accents, harakat, capitals and the query syntax's own characters.
UN_TEXT = st.text(alphabet=st.sampled_from(list('abcdeÉéàçñ ДЖжщЁё 数据本地化跨境 كتابِـَأ  -"*:()')), max_size=80)


def _fts() -> sqlite3.Connection:
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE VIRTUAL TABLE t USING fts5(body, tokenize = 'unicode61 remove_diacritics 0')")
    return connection


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=60), UN_TEXT))
def test_any_query_is_valid_fts5_and_never_fails(q):
    connection = _fts()
    connection.execute("INSERT INTO t (body) VALUES (?)", (index_text(q),))
    query = parse_query(q)
    if query:
        connection.execute("SELECT rowid FROM t WHERE t MATCH ?", (fts5_match(query),)).fetchall()
    assert re.fullmatch(r"[^<>]*(<mark>[^<>]*</mark>[^<>]*)*", snippet(q, query))


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=80), UN_TEXT), st.data())
def test_every_word_of_a_text_finds_it(text, data):
    words = text.split()
    if not words:
        return
    word = data.draw(st.sampled_from(words))
    query = parse_query(word.replace('"', " ").replace("-", " ").replace("*", " "))
    if not query:
        return
    connection = _fts()
    connection.execute("INSERT INTO t (body) VALUES (?)", (index_text(text),))
    assert connection.execute("SELECT count(*) FROM t WHERE t MATCH ?", (fts5_match(query),)).fetchone() == (1,)
