"""services/kit/logging.py: the level configure() sets is the level every logger logs at."""

from __future__ import annotations

import structlog

from services.kit import logging as kit_logging


def test_a_logger_used_before_the_level_changes_follows_the_new_level(capfd):
    logger = structlog.get_logger("some.module")
    kit_logging.configure("warning")
    logger.info("dropped at warning")
    kit_logging.configure("info")
    logger.info("kept at info")
    kit_logging.configure("warning")
    logger.info("dropped again")
    err = capfd.readouterr().err
    assert "kept at info" in err and "dropped at warning" not in err and "dropped again" not in err
