"""Which browser origins CoGov trusts: its own and COGOV_ALLOWED_ORIGINS.

An origin is compared as the (scheme, host, port) tuple of RFC 6454 with the scheme's default port
filled in, never as a string: `https://host` is not `http://host`, and `https://host:443` is
`https://host`. This is the one place an `Origin` header is judged (form posts, the sync socket).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from services.settings import Settings

DEFAULT_PORTS = {"http": 80, "https": 443}
# A WebSocket request's own scheme names the origin of the page that would open it.
PAGE_SCHEMES = {"ws": "http", "wss": "https", "http": "http", "https": "https"}

Origin = tuple[str, str, int]


def parse_origin(value: str) -> Origin | None:
    """The (scheme, host, port) of an http(s) origin or URL, default port filled in; None for anything else."""
    try:
        split = urlsplit(value.strip())
        port = split.port
    except ValueError:
        return None
    scheme = PAGE_SCHEMES.get(split.scheme.lower())
    if scheme is None or not split.hostname or split.username is not None or split.password is not None:
        return None
    return scheme, split.hostname.lower(), port or DEFAULT_PORTS[scheme]


def trusted_origin(origin: str, settings: Settings, *, addressed: str | None = None) -> bool:
    """Whether a browser's `Origin` header names this service or one of COGOV_ALLOWED_ORIGINS.

    This service is COGOV_BASE_URL and, when given, `addressed`: the scheme and Host the request was
    sent to (`http://host:port`, `wss://host`), which is how a page served here names itself.
    """
    split = urlsplit(origin.strip())
    if split.path not in ("", "/") or split.query or split.fragment:  # an origin is scheme, host and port only
        return False
    sent = parse_origin(origin)
    if sent is None:  # "null", other schemes, garbage
        return False
    candidates = [settings.base_url, *settings.allowed_origins, *([addressed] if addressed else [])]
    return any(parse_origin(candidate) == sent for candidate in candidates)
