"""Stakeholder groups, regions, and the country → region table (DESIGN.md "Taxonomy").

The shipped table, `networks/data/countries.csv`, lists the 249 officially assigned
ISO 3166-1 alpha-2 codes. Names are the ISO short names as published by Debian's
iso-codes, with its common name where ISO inverts one ("Bolivia", "Iran", "South Korea").
UN member states map to their UN regional group (the United States, an observer of the
Western European and Others Group, is counted with it; Türkiye is in it for elections).
Every other entry says in its `note` why it maps where it does: territories follow the
state that administers them, the rest follow a stated geographic choice.

A deployment may replace the whole taxonomy with a JSON file (`load_taxonomy`).
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path
from types import MappingProxyType
from typing import Any


def N_(label: str) -> str:
    """Marks a default label for the interface's catalogs (`pybabel extract`); the pages translate it when shown."""
    return label


DEFAULT_GROUPS: Mapping[str, str] = MappingProxyType(
    {
        "government": N_("Government"),
        "private_sector": N_("Private sector"),
        "civil_society": N_("Civil society"),
        "technical_academic": N_("Technical and academic community"),
        "intergovernmental": N_("Intergovernmental organisations"),
    }
)

DEFAULT_REGIONS: Mapping[str, str] = MappingProxyType(
    {
        "africa": N_("Africa"),
        "asia_pacific": N_("Asia-Pacific"),
        "eastern_europe": N_("Eastern Europe"),
        "latin_america_caribbean": N_("Latin America and the Caribbean"),
        "western_europe_others": N_("Western Europe and others"),
    }
)

MIN_GROUPS = 3
MIN_REGIONS = 2

_COUNTRY_CODE = re.compile(r"[A-Z]{2}")
# Group and region codes appear in URLs, queries and stored rows.
_CODE = re.compile(r"[a-z][a-z0-9_]*")


class UnknownCountry(ValueError):
    """A country code that the taxonomy's table does not list."""

    def __init__(self, code: str) -> None:
        self.code = code
        super().__init__(f"Unknown country code {code!r}: not an ISO 3166-1 alpha-2 code in the taxonomy")


class TaxonomyInvalid(ValueError):
    """A taxonomy that breaks a rule; `problems` holds one sentence per broken rule."""

    def __init__(self, problems: Iterable[str], source: str = "Taxonomy") -> None:
        self.problems = tuple(problems)
        self.source = source
        super().__init__(f"{source} is invalid: " + "; ".join(self.problems))


@dataclass(frozen=True)
class Country:
    code: str
    name: str
    region: str


@dataclass(frozen=True)
class Taxonomy:
    """Stakeholder groups and regions (ordered code → label) and countries by code.

    Constructing one validates it: at least 3 groups, at least 2 regions, at least one
    country, and every country in a declared region; otherwise `TaxonomyInvalid`.
    """

    groups: Mapping[str, str]
    regions: Mapping[str, str]
    countries: Mapping[str, Country]
    # Vouches that verify an affiliation (COGOV_VOUCHES_NEEDED): a term of the deployment's rule, like the groups.
    vouches_needed: int = 2

    def __post_init__(self) -> None:
        problems = _problems(self.groups, self.regions, self.countries)
        if problems:
            raise TaxonomyInvalid(problems)
        # Read-only copies, so a frozen taxonomy cannot be changed through a caller's dict.
        object.__setattr__(self, "groups", MappingProxyType(dict(self.groups)))
        object.__setattr__(self, "regions", MappingProxyType(dict(self.regions)))
        object.__setattr__(self, "countries", MappingProxyType(dict(self.countries)))

    def country(self, country_code: str) -> Country:
        """The country with this ISO code, in any letter case; `UnknownCountry` if not listed."""
        # ASCII only: str.upper() maps "ß" to "SS", which is a real code.
        country = self.countries.get(country_code.upper()) if country_code.isascii() else None
        if country is None:
            raise UnknownCountry(country_code)
        return country

    def region_of(self, country_code: str) -> str:
        """The region code of this country (any letter case); `UnknownCountry` if not listed."""
        return self.country(country_code).region

    def is_group(self, code: str) -> bool:
        return code in self.groups

    def is_region(self, code: str) -> bool:
        return code in self.regions


def _problems(groups: Mapping[str, str], regions: Mapping[str, str], countries: Mapping[str, Country]) -> list[str]:
    problems = []
    for kind, entries in (("groups", groups), ("regions", regions)):
        for code, label in entries.items():
            if not (isinstance(code, str) and _CODE.fullmatch(code)):
                problems.append(f"{kind}.{code}: a code must be lowercase letters, digits and _")
            if not (isinstance(label, str) and label.strip()):
                problems.append(f"{kind}.{code}: the label must be a non-empty string")
    if len(groups) < MIN_GROUPS:
        problems.append(f"groups: at least {MIN_GROUPS} stakeholder groups are needed, got {len(groups)}")
    if len(regions) < MIN_REGIONS:
        problems.append(f"regions: at least {MIN_REGIONS} regions are needed, got {len(regions)}")
    if not countries:
        problems.append("countries: at least one country is needed")
    for code, country in countries.items():
        if not (isinstance(code, str) and _COUNTRY_CODE.fullmatch(code)) or country.code != code:
            problems.append(f"countries.{code}: the code must be two letters (ISO 3166-1 alpha-2)")
        if country.region not in regions:
            problems.append(f"countries.{code}: region {country.region!r} is not a declared region")
    return problems


@cache
def default_taxonomy() -> Taxonomy:
    """The taxonomy shipped with CoGov: the default groups, the five UN regional groups,
    and the 249 ISO 3166-1 countries of `networks/data/countries.csv`."""
    table = (files("networks") / "data" / "countries.csv").read_text(encoding="utf-8")
    countries = {row["code"]: Country(row["code"], row["name"], row["region"]) for row in csv.DictReader(table.splitlines())}
    return Taxonomy(groups=DEFAULT_GROUPS, regions=DEFAULT_REGIONS, countries=countries)


def load_taxonomy(path: str | Path) -> Taxonomy:
    """Load and validate a replacement taxonomy from a JSON file.

    The file holds `{"groups": {code: label}, "regions": {code: label}, "countries": ...}`
    where countries is either `{code: region}` or `[{"code", "name", "region"}]` (name
    optional). A country without a name keeps the shipped table's name, else its code.
    Any unreadable file or broken rule raises `TaxonomyInvalid` listing every problem.
    """
    source = f"Taxonomy file {str(path)!r}"
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise TaxonomyInvalid([f"cannot be read ({error.strerror or error})"], source) from error
    except UnicodeDecodeError as error:
        raise TaxonomyInvalid(["is not UTF-8 text"], source) from error
    except json.JSONDecodeError as error:
        raise TaxonomyInvalid([f"is not valid JSON ({error})"], source) from error

    problems: list[str] = []
    if not isinstance(document, dict):
        raise TaxonomyInvalid(["the top level must be a JSON object"], source)
    unknown_keys = sorted(set(document) - {"groups", "regions", "countries"})
    if unknown_keys:
        problems.append(f"unknown keys {', '.join(unknown_keys)} (expected groups, regions, countries)")
    groups = _labels(document, "groups", problems)
    regions = _labels(document, "regions", problems)
    countries = _countries(document.get("countries"), problems)
    problems += _problems(groups, regions, countries)
    if problems:
        raise TaxonomyInvalid(problems, source)
    return Taxonomy(groups=groups, regions=regions, countries=countries)


def _labels(document: dict[str, Any], key: str, problems: list[str]) -> dict[str, str]:
    labels = document.get(key)
    if not isinstance(labels, dict):
        problems.append(f"{key}: must be an object mapping each code to its label")
        return {}
    return labels


def _countries(entries: Any, problems: list[str]) -> dict[str, Country]:
    if isinstance(entries, dict):
        entries = [{"code": code, "region": region} for code, region in entries.items()]
    elif not isinstance(entries, list):
        problems.append('countries: must be an object {code: region} or a list of {"code", "name", "region"}')
        return {}
    shipped = default_taxonomy().countries
    countries: dict[str, Country] = {}
    for position, entry in enumerate(entries):
        if not isinstance(entry, dict):
            problems.append(f"countries[{position}]: must be an object with code, name and region")
            continue
        code, region, name = entry.get("code"), entry.get("region"), entry.get("name")
        if not (isinstance(code, str) and code.isascii() and _COUNTRY_CODE.fullmatch(code.upper())):
            problems.append(f"countries[{position}]: code {code!r} is not two letters (ISO 3166-1 alpha-2)")
            continue
        code = code.upper()
        if code in countries:
            problems.append(f"countries.{code}: listed more than once")
        if not isinstance(region, str):
            problems.append(f"countries.{code}: region must be a region code, got {region!r}")
            continue
        if name is None:
            name = shipped[code].name if code in shipped else code
        elif not (isinstance(name, str) and name.strip()):
            problems.append(f"countries.{code}: name must be a non-empty string")
            continue
        countries[code] = Country(code, name, region)
    return countries


def configured_taxonomy(path: str | Path | None) -> Taxonomy:
    """The taxonomy a deployment runs with: the file named in settings, else the shipped one."""
    return load_taxonomy(path) if path else default_taxonomy()
