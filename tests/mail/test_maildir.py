"""With no SMTP server configured (as under `make run`), mail goes to the Maildir `$COGOV_DATA_DIR/mail/`,
where `cogov mail list` and `cogov mail show N` find it."""

from __future__ import annotations

from tests.cli import run_cogov
from tests.fixtures.accounts import PASSWORD
from tests.fixtures.mail import path_of


async def test_the_verification_mail_is_in_the_maildir_and_its_link_works(client, app, worker, settings, database_url):
    assert settings.smtp_url is None
    created = await client.post("/api/v1/auth/register", json={"email": "kim@example.org", "password": PASSWORD, "display_name": "Kim"})
    assert created.status_code == 202
    assert await worker.send_mail() == 1

    listed = run_cogov("mail", "list", database_url=database_url, data_dir=str(settings.data_dir))
    assert listed.returncode == 0, listed.stderr
    assert "Kim <kim@example.org>" in listed.stdout and "Confirm your email address for CoGov" in listed.stdout
    assert listed.stdout.lstrip().startswith("1 ")

    shown = run_cogov("mail", "show", "1", database_url=database_url, data_dir=str(settings.data_dir))
    assert shown.returncode == 0, shown.stderr
    assert "Subject: Confirm your email address for CoGov" in shown.stdout
    [link] = [word for word in shown.stdout.split() if "/verify-email?token=" in word]
    page = await client.get(path_of(link))
    assert page.status_code == 200
    token = link.partition("token=")[2]
    assert (await client.post("/api/v1/auth/verify-email", json={"token": token})).status_code == 200

    missing = run_cogov("mail", "show", "2", database_url=database_url, data_dir=str(settings.data_dir))
    assert missing.returncode == 1 and "no mail number 2" in missing.stderr
