"""The formation rule: when a self-forming network is `active` (DESIGN.md "Networks").

A network is active exactly when its roster holds every stakeholder group its charter
requires and members from at least `min_regions` distinct regions; otherwise it is
forming. Nobody approves a network: this function decides, over plain data.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from networks.taxonomy import MIN_GROUPS, MIN_REGIONS, Taxonomy

# The default charter leaves this group out (DESIGN.md): intergovernmental bodies may join
# a network but are not needed to form one.
OPTIONAL_BY_DEFAULT = "intergovernmental"
DEFAULT_MIN_REGIONS = 3


class FormationStatus(StrEnum):
    ACTIVE = "active"
    FORMING = "forming"


class FormationTerms(Protocol):
    """What the formation rule reads from a charter; any object with these attributes."""

    @property
    def required_groups(self) -> Collection[str]: ...

    @property
    def min_regions(self) -> int: ...


@dataclass(frozen=True)
class Charter:
    """The formation terms of a network's charter (its sign-off policy lives elsewhere)."""

    required_groups: frozenset[str]
    min_regions: int


@dataclass(frozen=True)
class RosterEntry:
    """One member of a network; group and region are None when they have no affiliation."""

    participant_id: Hashable
    stakeholder_group: str | None
    region: str | None


@dataclass(frozen=True)
class Formation:
    """The outcome of the formation rule for one roster, with what is missing and why."""

    status: FormationStatus
    groups_present: tuple[str, ...]
    groups_missing: tuple[str, ...]
    regions_present: tuple[str, ...]
    regions_needed: int
    matrix: Mapping[str, Mapping[str, int]]
    explanation: tuple[str, ...]

    @property
    def active(self) -> bool:
        return self.status == FormationStatus.ACTIVE


def evaluate(charter: FormationTerms, roster: Iterable[RosterEntry], taxonomy: Taxonomy) -> Formation:
    """Apply the formation rule to a roster (one entry per member).

    Active exactly when every required group is present and at least `min_regions`
    distinct regions are. An entry counts only when both its group and its region are set
    and known to the taxonomy. `matrix` counts members per group and region for every
    group × region of the taxonomy, zeros included. Groups and regions are listed in
    taxonomy order.
    """
    matrix = {group: dict.fromkeys(taxonomy.regions, 0) for group in taxonomy.groups}
    for entry in roster:
        if entry.stakeholder_group in matrix and entry.region in matrix[entry.stakeholder_group]:
            matrix[entry.stakeholder_group][entry.region] += 1

    groups_present = tuple(group for group, row in matrix.items() if any(row.values()))
    regions_present = tuple(region for region in taxonomy.regions if any(row[region] for row in matrix.values()))
    required = set(charter.required_groups)
    # A required group the taxonomy lacks can never be present; list it last, not silently drop it.
    groups_missing = tuple(group for group in taxonomy.groups if group in required - set(groups_present))
    groups_missing += tuple(sorted(required - set(taxonomy.groups)))
    regions_needed = max(0, charter.min_regions - len(regions_present))

    status = FormationStatus.ACTIVE if not groups_missing and not regions_needed else FormationStatus.FORMING
    return Formation(
        status=status,
        groups_present=groups_present,
        groups_missing=groups_missing,
        regions_present=regions_present,
        regions_needed=regions_needed,
        matrix=matrix,
        explanation=_explain(groups_missing, len(regions_present), charter.min_regions, taxonomy),
    )


def _explain(groups_missing: tuple[str, ...], regions_count: int, min_regions: int, taxonomy: Taxonomy) -> tuple[str, ...]:
    sentences = []
    if groups_missing:
        labels = ", ".join(taxonomy.groups.get(group, group) for group in groups_missing)
        noun = "group" if len(groups_missing) == 1 else "groups"
        sentences.append(f"Missing stakeholder {noun}: {labels}")
    if regions_count < min_regions:
        needed = min_regions - regions_count
        noun = "region" if needed == 1 else "regions"
        sentences.append(f"Needs members from {needed} more {noun} (has {regions_count} of {min_regions})")
    if not sentences:
        sentences.append(
            f"All required groups present and {regions_count} of {min_regions} regions: active"
            if regions_count == min_regions
            else f"All required groups present and {regions_count} regions ({min_regions} needed): active"
        )
    return tuple(sentences)


def validate_charter(required_groups: Collection[str], min_regions: int, taxonomy: Taxonomy) -> list[tuple[str, str]]:
    """Every way these formation terms break the rules, as (field, message) pairs.

    Required groups must be groups of the taxonomy, at least 3 of them; `min_regions`
    must be a whole number from 2 to the number of regions. An empty list means valid.
    """
    problems = []
    required = set(required_groups)
    unknown = sorted(required - set(taxonomy.groups))
    if unknown:
        problems.append(("required_groups", f"Unknown stakeholder groups: {', '.join(unknown)}"))
    if len(required) < MIN_GROUPS:
        message = f"At least {MIN_GROUPS} stakeholder groups must be required, got {len(required)}"
        problems.append(("required_groups", message))
    # bool is an int subclass; True as a region count is a caller's mistake, not 1.
    if not isinstance(min_regions, int) or isinstance(min_regions, bool):
        problems.append(("min_regions", f"Must be a whole number, got {min_regions!r}"))
    elif min_regions < MIN_REGIONS:
        message = f"At least {MIN_REGIONS} regions must be required, got {min_regions}"
        problems.append(("min_regions", message))
    elif min_regions > len(taxonomy.regions):
        count = len(taxonomy.regions)
        message = f"At most {count} regions can be required (the taxonomy has {count}), got {min_regions}"
        problems.append(("min_regions", message))
    return problems


def default_charter(taxonomy: Taxonomy) -> Charter:
    """The charter a network gets unless its founder chooses: every group but
    intergovernmental (all groups if that would leave fewer than 3), and 3 regions (or
    every region, where the taxonomy has fewer)."""
    groups = frozenset(taxonomy.groups) - {OPTIONAL_BY_DEFAULT}
    if len(groups) < MIN_GROUPS:
        groups = frozenset(taxonomy.groups)
    return Charter(required_groups=groups, min_regions=min(DEFAULT_MIN_REGIONS, len(taxonomy.regions)))
