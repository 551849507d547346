"""Configuration: laptop defaults, a generated secret, and refusal of unusable secrets."""

from __future__ import annotations

import pytest

from services.settings import Settings, SettingsError


def test_secret_is_generated_once_and_reused(tmp_path):
    first = Settings(data_dir=tmp_path, _env_file=None).signing_key
    assert len(first) >= 32
    assert (tmp_path / "secret.key").stat().st_mode & 0o077 == 0
    assert Settings(data_dir=tmp_path, _env_file=None).signing_key == first


@pytest.mark.parametrize("secret", ["changeme", "secret", "CHANGEME", "short-but-random-x1"])
def test_placeholder_or_short_secret_is_refused(tmp_path, secret):
    with pytest.raises(SettingsError, match="COGOV_SECRET_KEY"):
        _ = Settings(secret_key=secret, data_dir=tmp_path, _env_file=None).signing_key


def test_placeholder_in_the_secret_file_is_refused(tmp_path):
    (tmp_path / "secret.key").write_text("changeme\n")
    with pytest.raises(SettingsError, match="placeholder"):
        _ = Settings(data_dir=tmp_path, _env_file=None).signing_key


def test_environment_configures_everything(monkeypatch, tmp_path):
    monkeypatch.setenv("COGOV_ALLOWED_ORIGINS", "https://a.example, https://b.example/")
    monkeypatch.setenv("COGOV_REDIS_URL", "")
    monkeypatch.setenv("COGOV_ACCESS_TOKEN_MINUTES", "15")
    settings = Settings(_env_file=None)
    assert settings.allowed_origins == ["https://a.example", "https://b.example"]
    assert settings.redis_url is None
    assert settings.access_token_minutes == 15
    assert Settings(_env_file=None, database_url="sqlite+aiosqlite:///x.db").is_sqlite


def test_defaults_work_on_a_laptop():
    settings = Settings(_env_file=None)
    assert settings.database_url == "sqlite+aiosqlite:///./var/cogov.db"
    assert settings.redis_url is None


def test_mail_settings_refuse_what_cannot_work():
    import pydantic

    for url in ("http://mail.example.org", "mail.example.org:587"):
        with pytest.raises(pydantic.ValidationError, match="smtp://"):
            Settings(_env_file=None, smtp_url=url)
    for sender in ("CoGov <cogov@example.org>\r\nBcc: x@example.org", "not an address"):
        with pytest.raises(pydantic.ValidationError, match="COGOV_MAIL_FROM"):
            Settings(_env_file=None, mail_from=sender)
    assert Settings(_env_file=None, smtp_url="").smtp_url is None
    assert Settings(_env_file=None, smtp_url="smtps://user:p%40ss@mail.example.org:465").smtp_url is not None
