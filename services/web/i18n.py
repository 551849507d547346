"""The interface in the six UN languages: which language a request is answered in, its catalog, and Babel's
formats (dates, numbers, plurals, country names) in it.

The language of a request, first found wins: the account's choice (signed in) or the `cogov_lang` cookie, both
set by the switch in the header; `?lang=`; the browser's `Accept-Language`; English. Anything malformed or
unsupported is passed over without error. The catalogs are `locale/<code>/LC_MESSAGES/messages.po`
(docs/translating.md); `make` compiles them to `.mo`, and a catalog whose `.mo` is missing or older than its
`.po` is compiled in memory instead, so a checkout that skipped `make` still speaks every language.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale, negotiate_locale
from babel.dates import format_datetime
from babel.lists import format_list
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import LazyProxy, NullTranslations, Translations

from networks.taxonomy import Country, Taxonomy

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "messages"
LANGUAGE_COOKIE = "cogov_lang"
DEFAULT = "en"


@dataclass(frozen=True)
class Language:
    """One interface language: its code (cookie, `?lang=`, catalog folder), its Babel locale, its tag for
    `<html lang>`, its own name for itself, and its direction."""

    code: str
    locale: str
    tag: str
    name: str
    direction: str = "ltr"
    # ISO 639-2 (bibliographic), as Akoma Ntoso names the language of an expression.
    iso639_2: str = ""


# The six official languages of the United Nations, in the UN's order (Arabic, Chinese, English, French, Russian, Spanish).
LANGUAGES: dict[str, Language] = {
    language.code: language
    for language in (
        Language("ar", "ar", "ar", "العربية", "rtl", "ara"),
        Language("zh", "zh_Hans_CN", "zh-Hans", "中文", iso639_2="chi"),
        Language("en", "en", "en", "English", iso639_2="eng"),
        Language("fr", "fr", "fr", "Français", iso639_2="fre"),
        Language("ru", "ru", "ru", "Русский", iso639_2="rus"),
        Language("es", "es", "es", "Español", iso639_2="spa"),
    )
}
# Accept-Language tags that mean one of ours under another name (Simplified Chinese as written in China).
_ALIASES = {"zh-hans": "zh", "zh-cn": "zh", "zh-sg": "zh", "zh-hans-cn": "zh"}

_current: ContextVar[str] = ContextVar("cogov_language", default=DEFAULT)


def supported(code: object) -> str | None:
    """`code` if it names one of the six languages (as sent: a string of a few ASCII letters), else None."""
    if isinstance(code, str) and len(code) <= 8 and code.isascii():
        code = code.strip().lower()
        return code if code in LANGUAGES else None
    return None


def from_accept_language(header: str | None) -> str | None:
    """The best of the six for an `Accept-Language` header (RFC 9110 weights), or None; never raises."""
    if not header or len(header) > 1000:
        return None
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")[:32]):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip()
        if not tag or tag == "*" or not tag.isascii() or len(tag) > 35:
            continue
        weight = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                weight = float(params[2:])
            except ValueError:
                continue
        if 0 < weight <= 1:
            weighted.append((-weight, position, tag.lower()))
    preferred = [_ALIASES.get(tag, tag) for _, _, tag in sorted(weighted)]
    return negotiate_locale(preferred, list(LANGUAGES), sep="-")


def choose(*, account: str | None, cookie: str | None, query: str | None, accept: str | None) -> str:
    """The language to answer in, by the order the module states."""
    return supported(account) or supported(cookie) or supported(query) or from_accept_language(accept) or DEFAULT


def activate(code: str) -> None:
    """Answer the rest of this request (its task and what it awaits) in `code`."""
    _current.set(code if code in LANGUAGES else DEFAULT)


@contextmanager
def speaking(code: str) -> Iterator[None]:
    """Write what the block renders in `code` (a mail to someone, outside any request of theirs)."""
    token = _current.set(code if code in LANGUAGES else DEFAULT)
    try:
        yield
    finally:
        _current.reset(token)


def current() -> Language:
    return LANGUAGES[_current.get()]


@cache
def translations(code: str) -> NullTranslations:
    """The compiled catalog of `code`: its `.mo`, or its `.po` compiled in memory when the `.mo` is missing or stale."""
    if code == DEFAULT:
        return NullTranslations()
    folder = LOCALE_DIR / code / "LC_MESSAGES"
    po, mo = folder / f"{DOMAIN}.po", folder / f"{DOMAIN}.mo"
    if mo.is_file() and (not po.is_file() or mo.stat().st_mtime >= po.stat().st_mtime):
        with mo.open("rb") as compiled:
            return Translations(compiled, domain=DOMAIN)
    if not po.is_file():
        return NullTranslations()
    with po.open("rb") as source:
        catalog = read_po(source, locale=LANGUAGES[code].locale)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


def gettext(message: str) -> str:
    """`message` in the request's language."""
    return translations(_current.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or the (language's own) plural form for `n`, in the request's language."""
    return translations(_current.get()).ngettext(singular, plural, n)


def lazy_gettext(message: str) -> LazyProxy:
    """`message`, translated when it is shown (for strings defined at import, before any request)."""
    return LazyProxy(gettext, message, enable_cache=False)


def formatted(message: str, **values: Any) -> str:
    """`message` translated, then its `%(name)s` placeholders filled."""
    return gettext(message) % values


def datetime_text(value: datetime, zone: Any = None, *, form: str = "medium") -> str:
    """A moment in the request's language (CLDR's `form`: short, medium, long, full), in `zone` if given."""
    return format_datetime(value, form, tzinfo=zone, locale=current().locale)


# CLDR's minimumGroupingDigits where it is not 1 (Babel does not apply it): Spanish writes 1000 but 10.000, as the
# browsers' Intl.NumberFormat does, so a count the page's script updates reads the same as the server wrote it.
_MINIMUM_GROUPING_DIGITS = {"es": 2}


def number_text(value: float) -> str:
    """A number with the request's language's digits grouping and decimal sign."""
    language = current()
    grouped = abs(value) >= 10 ** (2 + _MINIMUM_GROUPING_DIGITS.get(language.code, 1))
    return format_decimal(value, locale=language.locale, group_separator=grouped)


@cache
def _territories(locale: str) -> dict[str, str]:
    return dict(Locale.parse(locale).territories)


def country_name(code: str | None) -> str:
    """A country's name (ISO 3166 alpha-2) in the request's language, from CLDR; the code when CLDR has no name."""
    if not code:
        return "—"
    return _territories(current().locale).get(code.upper(), code)


def language_name(code: str, in_language: str | None = None) -> str:
    """A language's name (CLDR), in the request's language unless `in_language` (a Babel locale) is given."""
    return Locale.parse(code).get_language_name(in_language or current().locale) or code


class _Countries(Mapping[str, Country]):
    """A taxonomy's countries, each named in the request's language."""

    def __init__(self, countries: Mapping[str, Country], names: Mapping[str, str]) -> None:
        self._countries = countries
        self._names = names

    def __getitem__(self, code: str) -> Country:
        country = self._countries[code]
        return replace(country, name=self._names.get(code, country.name))

    def __iter__(self) -> Iterator[str]:
        return iter(self._countries)

    def __len__(self) -> int:
        return len(self._countries)


@dataclass(frozen=True)
class LocalTaxonomy:
    """The taxonomy as a page shows it: group and region labels translated (a deployment's own labels, which
    the catalogs do not know, as they are), country names from CLDR."""

    groups: Mapping[str, str]
    regions: Mapping[str, str]
    countries: Mapping[str, Country]


def localised(taxonomy: Taxonomy) -> Taxonomy | LocalTaxonomy:
    """`taxonomy` in the request's language (itself, in English)."""
    if current().code == DEFAULT:
        return taxonomy
    return LocalTaxonomy(
        groups={code: gettext(label) for code, label in taxonomy.groups.items()},
        regions={code: gettext(label) for code, label in taxonomy.regions.items()},
        countries=_Countries(taxonomy.countries, _territories(current().locale)),
    )


def evidence_words(words: str, *, capital: bool = False) -> str:
    """A verification's words as `networks.verification.describe` writes them (English, as ballots and the API keep
    them), in the reader's language; words of another shape are shown as they are."""
    if words == "unverified":
        said = gettext("unverified")
    elif words == "verified by a registrar":
        said = gettext("verified by a registrar")
    elif found := re.fullmatch(r"verified by domain (\S+)", words):
        said = formatted("verified by domain %(domain)s", domain=found[1])
    elif found := re.fullmatch(r"verified by registrar (.+)", words):
        said = formatted("verified by registrar %(name)s", name=found[1])
    elif found := re.fullmatch(r"vouched by (.+)", words):
        names = re.split(r", | and ", found[1])
        said = formatted("vouched by %(names)s", names=format_list(names, locale=current().locale))
    else:
        said = words
    return said[:1].upper() + said[1:] if capital else said


def plural_forms(singular: str, plural: str) -> dict[str, str]:
    """The message's form for each plural category of the request's language (CLDR's zero, one, two, few, many,
    other), its number written `{n}`: what a page's script picks from with `Intl.PluralRules` as a count changes."""
    return dict(_plural_forms(_current.get(), singular, plural))


@cache
def _plural_forms(code: str, singular: str, plural: str) -> tuple[tuple[str, str], ...]:
    rule = Locale.parse(LANGUAGES[code].locale).plural_form
    catalog = translations(code)
    forms: dict[str, str] = {}
    for n in range(200):  # every category has an example below 200 in each of the six languages
        forms.setdefault(rule(n), catalog.ngettext(singular, plural, n) % {"n": "{n}"})
    return tuple(forms.items())
