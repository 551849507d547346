"""What the clearing house refuses, each with its status and code."""

from __future__ import annotations

from services.kit.errors import Conflict, Forbidden, InvalidInput, NotFound


class EntryNotFound(NotFound):
    """No published entry has this id."""

    code = "entry_not_found"


class CollectionNotFound(NotFound):
    """No collection has this slug."""

    code = "collection_not_found"


class TopicNotFound(NotFound):
    """No topic of the vocabulary has this slug."""

    code = "topic_not_found"


class FilterInvalid(InvalidInput):
    """A feed filter names something that does not exist."""

    code = "filter_invalid"


class FollowUpDateInvalid(InvalidInput):
    """A follow-up's date is when its status was reached: it cannot lie in the future."""

    code = "follow_up_date_invalid"


class SlugTaken(Conflict):
    """Another topic or collection already has this slug."""

    code = "slug_taken"


class NotCurators(Forbidden):
    """Clearing-house staff curate entries; a norm's text, its adoption and its place in the feeds are not theirs to change."""

    code = "not_curation"


class HubRequestInvalid(InvalidInput):
    """The WebSub request is not one this hub accepts."""

    code = "websub_invalid"


class SubscriptionNotFound(NotFound):
    """This hub has no subscription or request for this callback and topic."""

    code = "subscription_not_found"


class ProofRequired(Forbidden):
    """Prove the subscription's secret (X-Hub-Signature: sha256=HMAC(secret, callback)) or sign in as staff."""

    code = "proof_required"


class PublicationNotFailed(NotFound):
    """No failed publication has this id (it may have been published or retried meanwhile)."""

    code = "publication_not_failed"
