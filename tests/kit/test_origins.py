"""The origin rule: an `Origin` header is trusted exactly when its scheme, host and port (default ports
filled in) are those of COGOV_BASE_URL, of the address the request came to, or of an allowed origin."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from services.kit.origins import parse_origin, trusted_origin
from services.settings import Settings

SETTINGS = Settings(base_url="https://cogov.example.org/app", allowed_origins="http://editor.example:8080", _env_file=None)
DEFAULT = {"http": 80, "https": 443}

schemes = st.sampled_from(["http", "https"])
hosts = st.sampled_from(["cogov.example.org", "editor.example", "127.0.0.1", "evil.example", "[::1]"])
ports = st.one_of(st.none(), st.sampled_from([80, 443, 8080, 8443]), st.integers(1, 65535))


def _origin(scheme: str, host: str, port: int | None) -> str:
    return f"{scheme}://{host}" + (f":{port}" if port is not None else "")


def test_examples():
    assert trusted_origin("https://cogov.example.org", SETTINGS)
    assert trusted_origin("HTTPS://COGOV.EXAMPLE.ORG:443", SETTINGS)
    assert not trusted_origin("http://cogov.example.org", SETTINGS)
    assert not trusted_origin("https://cogov.example.org:8443", SETTINGS)
    assert trusted_origin("http://editor.example:8080", SETTINGS)
    assert not trusted_origin("https://editor.example:8080", SETTINGS)
    assert trusted_origin("http://127.0.0.1:8104", SETTINGS, addressed="ws://127.0.0.1:8104")
    assert not trusted_origin("https://127.0.0.1:8104", SETTINGS, addressed="ws://127.0.0.1:8104")
    assert trusted_origin("https://127.0.0.1", SETTINGS, addressed="wss://127.0.0.1:443")
    for bad in (
        "null",
        "",
        "file://",
        "https://cogov.example.org/app",
        "https://user@cogov.example.org",
        "https://cogov.example.org:99999",
    ):
        assert not trusted_origin(bad, SETTINGS), bad


@given(schemes, hosts, ports, schemes, hosts, ports)
def test_an_origin_is_trusted_exactly_when_scheme_host_and_port_match(scheme, host, port, own_scheme, own_host, own_port):
    origin, own = _origin(scheme, host, port), _origin(own_scheme, own_host, own_port)
    sent = (scheme, host.strip("[]"), port or DEFAULT[scheme])
    expected = sent in {
        ("https", "cogov.example.org", 443),
        ("http", "editor.example", 8080),
        (own_scheme, own_host.strip("[]"), own_port or DEFAULT[own_scheme]),
    }
    assert trusted_origin(origin, SETTINGS, addressed=own) is expected
    assert parse_origin(origin) == sent
