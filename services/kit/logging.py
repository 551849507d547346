"""Logging: structlog and the standard library (uvicorn, SQLAlchemy…) share one output on stderr,
readable lines on a terminal or one JSON object per line in production (COGOV_LOG_JSON=true).

Every line written while a request is served carries its `request_id` (bound by the RequestId
middleware in the request's context), whichever library wrote it.
"""

from __future__ import annotations

import logging
import re
import sys

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

# uvicorn configures these itself before the app starts; they are sent to the root handler instead,
# but for its access lines: the app writes its own, with request id, route and duration.
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error")
HANDLER_NAME = "cogov"


# Query parameters that carry a credential (a single-use sync ticket, a bearer token): uvicorn logs a socket's
# path with its query string, and a line in the log must not let its reader connect as someone else.
CREDENTIAL_PARAMETERS = ("ticket", "access_token", "token", "secret", "password", "code", "hub.secret")
_CREDENTIAL = re.compile(r"([?&](?:" + "|".join(re.escape(name) for name in CREDENTIAL_PARAMETERS) + r")=)[^&\s\"'#]*")


def redact_credentials(text: str) -> str:
    """`text` with the value of every credential-carrying query parameter replaced by `[redacted]`."""
    return _CREDENTIAL.sub(r"\1[redacted]", text)


def _redact(_logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
    for key, value in event_dict.items():
        if isinstance(value, str) and "=" in value:
            event_dict[key] = redact_credentials(value)
    return event_dict


def _drop_color_message(_logger: WrappedLogger, _name: str, event_dict: EventDict) -> EventDict:
    event_dict.pop("color_message", None)  # uvicorn's copy of the message with terminal colours
    return event_dict


def configure(level: str = "info", json: bool = False) -> None:
    numeric = logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.ExtraAdder(), _drop_color_message],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            _redact,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    handler.set_name(HANDLER_NAME)
    root = logging.getLogger()
    # Replace our handler from an earlier call; leave others' (a test runner's capture) in place.
    root.handlers = [*(existing for existing in root.handlers if existing.get_name() != HANDLER_NAME), handler]
    root.setLevel(numeric)
    for name in UVICORN_LOGGERS:
        logging.getLogger(name).handlers = []
        logging.getLogger(name).propagate = True
    logging.getLogger("uvicorn.access").handlers = []
    logging.getLogger("uvicorn.access").propagate = False
    # The level is checked against the standard library's loggers at each call (filter_by_level, first), not
    # built into each logger when first used: a logger used before a later configure() follows its level too.
    structlog.configure(
        processors=[structlog.stdlib.filter_by_level, *shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
