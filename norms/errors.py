"""What can go wrong with norms, each with its HTTP status and a stable code."""

from __future__ import annotations

from services.kit.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
)


class NormNotFound(NotFound):
    """No such norm."""

    code = "norm_not_found"


class VersionNotFound(NotFound):
    """No such version of this norm."""

    code = "version_not_found"


class ChangeNotFound(NotFound):
    """No change with this hash in this norm's history."""

    code = "change_not_found"


class NotDrafting(Conflict):
    """The norm is not in drafting: its text can no longer change."""

    code = "not_drafting"


class AttributionRefused(Forbidden):
    """A change comes from an Automerge actor bound to another participant; authorship cannot be forged."""

    code = "actor_bound_to_another_participant"


class InvalidChanges(DomainError):
    """The bytes are not valid Automerge changes for this document."""

    status_code = 400
    code = "invalid_changes"


class UnknownDependencies(DomainError):
    """A change depends on changes this server does not have; send those first."""

    status_code = 400
    code = "missing_dependencies"

    def __init__(self, detail: str, missing: list[str]) -> None:
        super().__init__(detail, missing=missing)
        self.missing = missing  # the hex hashes of the changes to send first


class InvalidSplice(InvalidInput):
    """A splice reaches outside the text."""

    code = "splice_out_of_range"


class InvalidHeads(InvalidInput):
    """Heads must be 64-character hex change hashes known to this norm."""

    code = "invalid_heads"


class TextRefused(InvalidInput):
    """The changes insert a character no text may hold (a control character other than tab and line breaks); nothing was stored."""

    code = "refused_character"


class DocumentShapeRefused(InvalidInput):
    """A norm's document is a map with a `title` string and a `body` Text object; changes may not remove or replace them."""

    code = "not_a_norm_document"


class NormTooLarge(PayloadTooLarge):
    """The norm or this submission is over the size limit; nothing was stored."""

    code = "norm_too_large"


class BallotNotFound(NotFound):
    """No such ballot."""

    code = "ballot_not_found"


class NetworkNotActive(Conflict):
    """Ballots open only in active networks, whose roster spans the groups and regions the charter requires."""

    code = "network_not_active"


class BallotAlreadyOpen(Conflict):
    """This norm already has an open ballot; close it before opening another."""

    code = "ballot_already_open"


class VersionAlreadyAdopted(Conflict):
    """This version is the one in force already."""

    code = "version_already_adopted"


class ElectorateTooNarrow(Conflict):
    """The electorate must span at least 2 stakeholder groups and 2 regions, so none decides alone."""

    code = "electorate_too_narrow"


class ClosingTimeInvalid(InvalidInput):
    """`closes_at` must leave the charter's minimum ballot duration, and be within a year."""

    code = "closes_at_invalid"


class BallotClosed(Conflict):
    """The ballot is closed; its result is final."""

    code = "ballot_closed"


class NotAnElector(Forbidden):
    """Only the electorate frozen when the ballot opened may vote on it."""

    code = "not_an_elector"


class TooEarlyToClose(Conflict):
    """A convener may close a ballot only after the charter's minimum duration, or once everyone has voted."""

    code = "too_early_to_close"


class WhatIfInvalid(InvalidInput):
    """A what-if vote names someone outside the electorate."""

    code = "what_if_invalid"


class TranslationNotFound(NotFound):
    """No translation of this version into this language."""

    code = "translation_not_found"


class TranslationOfAuthenticText(InvalidInput):
    """The norm is drafted in this language: its text in it is the authentic one, not a translation."""

    code = "translation_of_authentic_text"


class TranslationExists(Conflict):
    """This version already has a translation into this language; edit that one."""

    code = "translation_exists"
