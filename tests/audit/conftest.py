"""Audit-log fixtures: the clearing house's (a worker on the test clock, an adopted and published norm)."""

from tests.clearinghouse.conftest import council, published, settings, worker  # noqa: F401
from tests.norms.conftest import clock, make_council  # noqa: F401
