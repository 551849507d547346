"""COGOV_SMTP_URL read as a person writes it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.mail.transport import SmtpServer
from services.settings import Settings


def test_smtp_urls():
    plain = SmtpServer.from_url("smtp://mail.example.org")
    assert (plain.hostname, plain.port, plain.implicit_tls, plain.username) == ("mail.example.org", 587, False, None)
    tls = SmtpServer.from_url("smtps://cogov%40example.org:p%3Ass@mail.example.org")
    assert (tls.port, tls.implicit_tls, tls.username, tls.password) == (465, True, "cogov@example.org", "p:ss")
    assert SmtpServer.from_url("smtp://mailpit:1025").port == 1025


def test_a_missing_ca_file_is_refused_at_start(tmp_path):
    with pytest.raises(ValidationError, match="smtp_ca_file"):
        Settings(secret_key="x" * 40, smtp_ca_file=str(tmp_path / "missing.pem"), _env_file=None)
    assert Settings(secret_key="x" * 40, smtp_ca_file="", _env_file=None).smtp_ca_file is None
