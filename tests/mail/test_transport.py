"""COGOV_SMTP_URL read as a person writes it."""

from __future__ import annotations

from services.mail.transport import SmtpServer


def test_smtp_urls():
    plain = SmtpServer.from_url("smtp://mail.example.org")
    assert (plain.hostname, plain.port, plain.implicit_tls, plain.username) == ("mail.example.org", 587, False, None)
    tls = SmtpServer.from_url("smtps://cogov%40example.org:p%3Ass@mail.example.org")
    assert (tls.port, tls.implicit_tls, tls.username, tls.password) == (465, True, "cogov@example.org", "p:ss")
    assert SmtpServer.from_url("smtp://mailpit:1025").port == 1025
