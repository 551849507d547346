"""What can go wrong when reading the audit log as a transparency log, each with its HTTP status and a stable code."""

from __future__ import annotations

from services.kit.errors import InvalidInput, NotFound


class TreeSizeOutOfRange(InvalidInput):
    """The tree size or event asked for is outside the log; the answer names the log's current size."""

    code = "tree_size_out_of_range"


class TreeHeadNotFound(NotFound):
    """No signed tree head with this number."""

    code = "tree_head_not_found"


class AuditEventNotFound(NotFound):
    """No audit event with this number."""

    code = "audit_event_not_found"
