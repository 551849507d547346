"""Imports every model so the metadata Alembic and the drift test compare against is complete."""

from networks import models as networks_models  # noqa: F401
from norms import (
    consultation_models,  # noqa: F401
    drafting_models,  # noqa: F401
)
from norms import models as norms_models  # noqa: F401
from norms import outbox as outbox_models  # noqa: F401
from services.accounts import links as account_links  # noqa: F401
from services.accounts import models as accounts_models  # noqa: F401
from services.audit import models as audit_models  # noqa: F401
from services.clearinghouse import models as clearinghouse_models  # noqa: F401
from services.kit.db import Base
from services.mail import models as mail_models  # noqa: F401
from services.notifications import models as notifications_models  # noqa: F401
from services.search import models as search_models  # noqa: F401

metadata = Base.metadata
