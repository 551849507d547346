"""Mail over TLS to real SMTP servers (aiosmtpd with a certificate from a private authority made for the
test): TLS from the start (smtps://), STARTTLS when a server requires it, certificates always checked,
and a password never sent in clear."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from services.mail.models import Mail, MailStatus
from tests.fixtures.accounts import PASSWORD
from tests.fixtures.mail import SmtpSink

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

CREDENTIALS = ("cogov@example.org", "s3cret pass")


@pytest.fixture
def server(request, pki):
    kind, credentials = request.param
    options = {"implicit": {"implicit_tls": pki.server_context}, "starttls": {"starttls": pki.server_context}, "plain": {}}[kind]
    sink = SmtpSink(credentials=credentials, **options).start()
    yield sink
    sink.stop()


@pytest.fixture
def trust(request) -> bool:
    return getattr(request, "param", True)


@pytest.fixture
def settings_overrides(server, pki, trust) -> dict:
    overrides = {"smtp_url": server.url.replace("s3cret pass", "s3cret%20pass"), "mail_from": "CoGov <cogov@example.org>"}
    return overrides | ({"smtp_ca_file": pki.ca_file} if trust else {})


async def sign_up(client, email: str) -> None:
    created = await client.post("/api/v1/auth/register", json={"email": email, "password": PASSWORD, "display_name": "Ama Mensah"})
    assert created.status_code == 202, created.text


async def the_mail(app) -> Mail:
    async with app.state.sessionmaker() as session:
        [mail] = (await session.scalars(select(Mail))).all()
        return mail


@pytest.mark.parametrize("server", [("implicit", None), ("implicit", CREDENTIALS)], indirect=True)
async def test_smtps_speaks_tls_from_the_start_to_a_server_of_a_trusted_private_authority(client, app, worker, server):
    await sign_up(client, "ama@example.org")
    assert await worker.send_mail() == 1
    assert [str(mail["To"]) for mail in server.received] == ["Ama Mensah <ama@example.org>"]
    assert (await the_mail(app)).status is MailStatus.sent
    if server.credentials is not None:
        assert server.logins == [(*CREDENTIALS, True)]


@pytest.mark.parametrize("server", [("starttls", None), ("starttls", CREDENTIALS)], indirect=True)
async def test_smtp_upgrades_with_starttls_when_the_server_requires_it(client, app, worker, server):
    await sign_up(client, "ama@example.org")
    assert await worker.send_mail() == 1
    assert len(server.received) == 1
    assert (await the_mail(app)).status is MailStatus.sent
    if server.credentials is not None:
        assert server.logins == [(*CREDENTIALS, True)]


@pytest.mark.parametrize("trust", [False], indirect=True)
@pytest.mark.parametrize("server", [("implicit", None), ("starttls", None)], indirect=True)
async def test_a_certificate_nobody_trusts_is_refused_and_the_mail_waits(client, app, worker, server):
    await sign_up(client, "ama@example.org")
    assert await worker.send_mail() == 1
    assert server.received == []
    mail = await the_mail(app)
    assert (mail.status, mail.attempts) == (MailStatus.pending, 1)
    assert "CERTIFICATE_VERIFY_FAILED" in (mail.last_error or "")


@pytest.mark.parametrize("server", [("plain", CREDENTIALS)], indirect=True)
async def test_a_server_without_starttls_never_gets_the_password(client, app, worker, server, capsys):
    await sign_up(client, "ama@example.org")
    assert await worker.send_mail() == 1
    assert server.logins == [] and server.received == []
    mail = await the_mail(app)
    assert (mail.status, mail.attempts) == (MailStatus.pending, 1)
    assert "offers no STARTTLS" in (mail.last_error or "") and "in clear" in (mail.last_error or "")
    assert "s3cret" not in (mail.last_error or "")
