"""What can go wrong with affiliations, networks and membership; each error has a stable `code`."""

from __future__ import annotations

from services.kit.errors import Conflict, Forbidden, InvalidInput, NotFound

AFFILIATION_HOW_TO = (
    "PUT /api/v1/me/affiliation with {stakeholder_group, country, organisation?} (GET /api/v1/taxonomy lists the groups and countries)"
)


class NetworkNotFound(NotFound):
    """No network has this slug."""

    code = "network_not_found"


class ApplicationNotFound(NotFound):
    """This network has no application with this id."""

    code = "application_not_found"


class AffiliationNotSet(NotFound):
    """You have not set an affiliation yet."""

    code = "affiliation_not_set"

    def __init__(self) -> None:
        super().__init__(f"You have not set an affiliation yet; set one with {AFFILIATION_HOW_TO}")


class AffiliationRequired(Forbidden):
    """This act needs an affiliation: joining, founding, commenting."""

    code = "affiliation_required"

    def __init__(self, act: str) -> None:
        super().__init__(f"You need an affiliation to {act}; set one with {AFFILIATION_HOW_TO}")


class AffiliationInvalid(InvalidInput):
    """The affiliation names a stakeholder group or country the taxonomy does not know."""

    code = "affiliation_invalid"


class FilterInvalid(InvalidInput):
    """A listing filter names a stakeholder group or region the taxonomy does not know."""

    code = "filter_invalid"


class CharterInvalid(InvalidInput):
    """The charter breaks a rule of formation."""

    code = "charter_invalid"


class AlreadyMember(Conflict):
    """You are already a member of this network."""

    code = "already_member"


class ApplicationPending(Conflict):
    """You already have an application to this network waiting for a convener."""

    code = "application_pending"


class NotAMember(Forbidden):
    """Only members of this network may do this."""

    code = "not_a_member"


class AppointeeNotAMember(Conflict):
    """Only a member of the network can become a convener."""

    code = "appointee_not_a_member"


class AlreadyConvener(Conflict):
    """This member is already a convener."""

    code = "already_convener"


class LastConvener(Conflict):
    """A network always keeps at least one convener."""

    code = "last_convener"


class ApplicationDecided(Conflict):
    """This application has already been decided."""

    code = "application_decided"


class StaffCannotTakePart(Forbidden):
    """Clearing-house staff and administrators publish and curate; they never take part in a network."""

    code = "staff_cannot_take_part"

    def __init__(self, act: str) -> None:
        super().__init__(
            f"Clearing-house staff and administrators cannot {act}: the clearing house never takes part in a network. "
            "A person who is also an expert takes part from a separate expert account"
        )


class NotConvener(Forbidden):
    """Only a convener of this network may do this."""

    code = "not_convener"


# Organisations and verified affiliations


class OrganisationNotFound(NotFound):
    """No organisation has this slug or id."""

    code = "organisation_not_found"


class OrganisationDuplicate(Conflict):
    """An organisation with this normalised name or one of these domains exists already: use it."""

    code = "organisation_duplicate"


class OrganisationNearDuplicates(Conflict):
    """Organisations with similar names exist; use one of them, or send `distinct: true` to create this one anyway."""

    code = "organisation_near_duplicates"


class DomainClaimed(Conflict):
    """Another organisation already holds this domain."""

    code = "domain_claimed"


class DomainNotFound(NotFound):
    """This organisation has not claimed this domain."""

    code = "domain_not_found"


class VerificationRequired(Forbidden):
    """Only participants whose own affiliation is verified may do this."""

    code = "verification_required"


class CannotVouch(Forbidden):
    """This vouch cannot count: the reason says why."""

    code = "cannot_vouch"


class AlreadyVouched(Conflict):
    """You already vouch for this affiliation; withdraw the vouch first to vouch again."""

    code = "already_vouched"


class NoVouch(NotFound):
    """You have no standing vouch for this person's current affiliation."""

    code = "no_vouch"


class RegistrarOwnAffiliation(Forbidden):
    """A registrar cannot verify or revoke their own affiliation; another registrar must."""

    code = "registrar_own_affiliation"


class NoteRequired(InvalidInput):
    """A registrar's decision needs a public note saying on what it rests (an accreditation list, a letter)."""

    code = "note_required"


class AddressCannotVerify(InvalidInput):
    """This address cannot verify your affiliation: give an address at one of your organisation's proven domains."""

    code = "address_cannot_verify"
