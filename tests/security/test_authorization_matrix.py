"""Who may call what: every route of the app × anonymous/participant/member/convener/staff/subscriber/admin,
against a table of the status each must get.

The world (tests/security/world.py) is built through the API. Each route is called once per role
with a well-formed request, so the answer reflects who is asking, not what was sent. Routes that
change what later calls see (closing, leaving, signing out) run last. A route the table does not
list fails the test: whoever adds one decides who may call it.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import uuid
from datetime import timedelta

from starlette.routing import Mount, WebSocketRoute

from services.notifications.delivery import unsubscribe_token
from services.notifications.models import Kind
from services.web.session import CSRF_COOKIE, CSRF_HEADER, FLASH_COOKIE, SESSION_COOKIE, _mac
from tests.fixtures.accounts import PASSWORD
from tests.fixtures.databases import ON_SQLITE
from tests.security.world import ROLES, sign_in

pytestmark = ON_SQLITE
# Thousands of calls from one address and one member: rate limits and the password-guessing throttle
# (tried in tests/ops and test_password_guessing.py) would answer most of them 429 and hide what lies behind.
SETTINGS = {"rate_limits_enabled": False, "login_failures_per_minute": 0}

ORDER = ("anonymous", "participant", "subscriber", "staff", "admin", "member", "convener")  # privileged callers last
CSRF_SEED = "matrix-csrf-seed-0123456789"
_unique = itertools.count()


def routes(app) -> list[str]:
    """Every endpoint of the app as "METHOD /path" (WebSockets as WS, mounted apps as MOUNT)."""

    def walk(found, prefix=""):
        for route in found:
            if hasattr(route, "original_router"):  # an included router
                yield from walk(route.original_router.routes, prefix + route.include_context.prefix)
            elif isinstance(route, Mount):
                yield f"MOUNT {prefix}{route.path}"
            elif isinstance(route, WebSocketRoute) or type(route).__name__ == "APIWebSocketRoute":
                yield f"WS {prefix}{route.path}"
            else:
                for method in sorted(set(route.methods) - {"HEAD"}):
                    yield f"{method} {prefix}{route.path}"

    return list(walk(app.routes))


def _network(role: str) -> dict:
    n = next(_unique)
    return {
        "name": f"Matrix network {role} {n}",
        "issue": "Route hijacks cross borders.",
        "aims": "A voluntary norm for route origin validation.",
        "intended_outcome": "A norm operators can adopt.",
    }


def _later(world: dict, **units) -> str:
    return (world["clock"].now() + timedelta(**units)).isoformat()


# How each route is called: path parameters come from the world's ids; bodies are well formed.
def requests_for(world: dict) -> dict:
    ids = world["ids"]
    people = world["people"]
    return {
        # Notifications and following: a network to follow; each role's unsubscribe link names another kind of the
        # participant's mail (a link works once), so every call is one a mail client could make.
        "PATCH /api/v1/me/notification-preferences": {"json": {"digest_hour": 8, "time_zone": "Europe/Paris"}},
        "POST /api/v1/me/follows": {"json": {"target": "network", "key": ids["slug"]}},
        "DELETE /api/v1/me/follows": {"json": {"target": "network", "key": ids["slug"]}},
        "GET /api/v1/followers": {"params": {"target": "network", "key": ids["slug"]}},
        "POST /settings/notifications": {"data": {"hour": "8", "time_zone": "UTC", "mode-ballot_opened": "daily"}},
        "POST /follows/{target}/{action}": {"data": {"key": ids["slug"], "next": "/notifications"}},
        "GET /notifications/unsubscribe": lambda role: {"params": {"token": world["unsubscribe"](role)}},
        "POST /notifications/unsubscribe": lambda role: {"params": {"token": world["unsubscribe"](role)}},
        "POST /language": {"data": {"language": "fr", "next": "/"}},
        "POST /api/v1/auth/register": lambda role: {
            "json": {"email": f"new{next(_unique)}@example.org", "password": PASSWORD, "display_name": "New"}
        },
        "POST /api/v1/auth/token": lambda role: {
            "data": {"username": people.get(role, people["member"])["email"], "password": PASSWORD if role != "anonymous" else "wrong"}
        },
        "PUT /api/v1/participants/{participant_id}/role": {"json": {"role": "participant"}},
        # Account settings: well-formed bodies that change nothing lasting (no wrong password is checked, so the
        # password-guessing throttle stays out of it).
        "PATCH /api/v1/me": lambda role: {"json": {"display_name": f"Renamed {role}"}},
        "PUT /api/v1/me/password": {"json": {"current_password": PASSWORD}},
        "DELETE /api/v1/me": {"json": {}},
        "DELETE /api/v1/me/two-factor": {"json": {}},
        "POST /api/v1/me/two-factor": {"json": {"enrolment": "not-an-enrolment", "code": "123456"}},
        "POST /api/v1/me/two-factor/recovery-codes": {"json": {"code": "12345x"}},
        "POST /api/v1/auth/token/totp": {"json": {"challenge": "not-a-challenge", "code": "123456"}},
        "POST /settings/name": lambda role: {"data": {"display_name": f"Renamed {role}"}},
        "POST /settings/password": {"data": {"current_password": PASSWORD}},
        "POST /settings/delete": {"data": {}},
        "POST /settings/two-factor": {"data": {"enrolment": "not-an-enrolment", "code": "123456"}},
        "POST /settings/two-factor/recovery-codes": {"data": {"code": "12345x"}},
        "POST /settings/two-factor/disable": {"data": {}},
        "POST /signin/code": {"data": {"challenge": "not-a-challenge", "code": "123456"}},
        "PUT /api/v1/me/affiliation": {"json": {"stakeholder_group": "government", "country": "FR", "organisation": "Ministry"}},
        "POST /api/v1/networks": lambda role: {"json": _network(role)},
        "PATCH /api/v1/networks/{slug}/charter": {"json": {"signoff": {"quorum": "1/2", "threshold": "1/2", "min_ballot_hours": 1}}},
        "POST /api/v1/networks/{slug}/join": {"json": {"motivation": "I regulate platforms."}},
        "POST /api/v1/networks/{slug}/applications/{application_id}/approve": {"json": {"note": "Welcome."}},
        "POST /api/v1/networks/{slug}/applications/{application_id}/decline": {"json": {"note": "Not now."}},
        "POST /api/v1/networks/{slug}/conveners": {"json": {"participant_id": ids["appointee"]}},
        "POST /api/v1/networks/{slug}/norms": lambda role: {
            "json": {"title": f"Matrix norm {next(_unique)}", "text": "Operators validate route origins."}
        },
        "POST /api/v1/norms/{norm_id}/edits": {"json": {"splices": [{"index": 0, "delete": 0, "insert": "Also: "}]}},
        "POST /api/v1/norms/{norm_id}/automerge": {"content": world["saved"], "headers": {"content-type": "application/octet-stream"}},
        "GET /api/v1/norms/{norm_id}/text": {"params": {"at": ids["head"]}},
        "POST /api/v1/norms/{norm_id}/versions": {"json": {"label": "Matrix reading"}},
        # Each language once per version: the member starts French (read below), the convener Spanish.
        "POST /api/v1/norms/{norm_id}/versions/{number}/translations": lambda role: {
            "json": {"language": {"member": "fr", "convener": "es"}.get(role, "ru")}
        },
        "POST /api/v1/norms/{norm_id}/versions/{number}/translations/{language}/edits": {
            "json": {"splices": [{"index": 0, "delete": 0, "insert": "Traduit : "}]}
        },
        "GET /api/v1/norms/{norm_id}/diff": {"params": {"from": 1, "to": 2}},
        "POST /api/v1/norms/{norm_id}/ballots": lambda role: {
            "json": {"version": ids["third_version"], "closes_at": _later(world, hours=3)}
        },
        "PUT /api/v1/ballots/{ballot_id}/vote": {"json": {"position": "approve"}},
        "POST /api/v1/ballots/{ballot_id}/what-if": {"json": {"votes": []}},
        "POST /api/v1/norms/{norm_id}/consultations": lambda role: {
            "json": {"version": 2, "closes_at": _later(world, days=10), "question": "Clear?"}
        },
        "POST /api/v1/consultations/{consultation_id}/comments": {"json": {"body": "A comment."}},
        "POST /api/v1/comments/{comment_id}/replies": {"json": {"body": "A reply."}},
        "PUT /api/v1/comments/{comment_id}/resolution": {"json": {"status": "declined", "reason": "Out of scope."}},
        "GET /api/v1/audit/proofs/inclusion": {"params": {"seq": 1}},
        "GET /api/v1/audit/proofs/consistency": {"params": {"first": 1}},
        "GET /api/v1/websub/subscriptions": {"params": {"callback": "https://subscriber.example.org/cb", "topic": world["topic"]}},
        "POST /api/v1/comments/{comment_id}/hide": {"json": {"reason": "Off topic."}},
        "PUT /api/v1/clearinghouse/entries/{entry_id}/follow-up": {"json": {"status": "received", "date": "2026-11-01"}},
        "POST /api/v1/clearinghouse/subscribers": {"json": {"participant_id": people["participant"]["id"]}},
        "PATCH /api/v1/clearinghouse/entries/{entry_id}/curation": {"json": {"summary": "Curated."}},
        "POST /api/v1/clearinghouse/topics": lambda role: {"json": {"label": f"Topic {next(_unique)}"}},
        "PATCH /api/v1/clearinghouse/topics/{slug}": {"json": {"label": "Transparency"}},
        "POST /api/v1/clearinghouse/collections": lambda role: {"json": {"title": f"Collection {next(_unique)}"}},
        "PATCH /api/v1/clearinghouse/collections/{slug}": {"json": {"title": "Recommenders"}},
        "POST /websub": {
            "data": {"hub.mode": "subscribe", "hub.topic": world["topic"], "hub.callback": "https://subscriber.example.org/cb"}
        },
        "POST /networks/new": lambda role: {"data": _network(role)},
        "POST /networks/{slug}/join": {"data": {"motivation": "I regulate platforms."}},
        "POST /networks/{slug}/leave": {"data": {"confirm": "yes"}},
        "POST /networks/{slug}/charter": {
            "data": {
                "required_groups": ["government", "civil_society", "private_sector"],
                "min_regions": "2",
                "quorum": "1/2",
                "threshold": "1/2",
                "min_ballot_hours": "1",
            }
        },
        "POST /networks/{slug}/conveners": {"data": {"participant_id": ids["second_appointee"]}},
        "POST /signup": lambda role: {"data": {"email": f"web{next(_unique)}@example.org", "password": PASSWORD, "display_name": "Web"}},
        "POST /signin": lambda role: {
            "data": {"email": people.get(role, people["member"])["email"], "password": PASSWORD if role != "anonymous" else "wrong"}
        },
        "POST /me/affiliation": {"data": {"stakeholder_group": "government", "country": "FR", "organisation": "Ministry"}},
        # Mailed links: a token no link carries (400 for everyone); a fresh address for each change of address.
        "POST /api/v1/auth/verify-email": {"json": {"token": "not-a-link"}},
        "POST /api/v1/auth/confirm-email": {"json": {"token": "not-a-link"}},
        "POST /api/v1/auth/reset-password": {"json": {"token": "not-a-link", "password": PASSWORD}},
        "POST /api/v1/auth/forgot-password": {"json": {"email": "someone@example.org"}},
        "PUT /api/v1/me/email": lambda role: {"json": {"email": f"moved{next(_unique)}@example.org"}},
        "POST /verify-email": {"data": {"token": "not-a-link"}},
        "POST /confirm-email": {"data": {"token": "not-a-link"}},
        "POST /reset-password": {"data": {"token": "not-a-link", "password": PASSWORD}},
        "POST /forgot-password": {"data": {"email": "someone@example.org"}},
        "POST /settings/email": lambda role: {"data": {"email": f"moved{next(_unique)}@example.org"}},
        "POST /networks/{slug}/norms": lambda role: {"data": {"title": f"Web norm {next(_unique)}", "text": "Operators validate."}},
        "POST /networks/{slug}/norms/{norm_slug}/edit": {
            "data": {"title": "Recommender transparency", "text": "Platforms publish their ranking criteria. Web."}
        },
        "POST /networks/{slug}/norms/{norm_slug}/versions": {"data": {"label": "Web reading"}},
        "POST /networks/{slug}/norms/{norm_slug}/versions/{number}/translations/{language}/edit": {
            "data": {"title": "Transparence", "text": "Les plateformes publient leurs critères."}
        },
        # Languages the API's calls above left untranslated: the member starts Arabic, the convener Chinese.
        "POST /networks/{slug}/norms/{norm_slug}/versions/{number}/translations": lambda role: {
            "data": {"language": {"member": "ar", "convener": "zh"}.get(role, "ru")}
        },
        "GET /networks/{slug}/norms/{norm_slug}/diff": {"params": {"from": 1, "to": 2}},
        "POST /networks/{slug}/norms/{norm_slug}/ballots": lambda role: {
            "data": {"version": ids["third_version"], "closes_at": _later(world, hours=3)[:16]}
        },
        "POST /networks/{slug}/norms/{norm_slug}/ballots/{ballot_id}/vote": {"data": {"position": "approve"}},
        "POST /norms/{norm_id}/consultations": lambda role: {
            "data": {"version": 2, "closes_at": _later(world, days=10)[:16], "question": "Clear?"}
        },
        "POST /consultations/{consultation_id}/comments": {"data": {"body": "A web comment."}},
        "POST /comments/{comment_id}/reply": {"data": {"body": "A web reply."}},
        "POST /comments/{comment_id}/resolve": {"data": {"status": "declined", "reason": "Out of scope."}},
        "POST /comments/{comment_id}/hide": {"data": {"reason": "Off topic."}},
        "POST /api/v1/norms/{norm_id}/threads": {"json": {"body": "A thread."}},
        "POST /api/v1/threads/{thread_id}/posts": {"json": {"body": "A post."}},
        "PUT /api/v1/threads/{thread_id}/status": {"json": {"status": "resolved"}},
        "POST /api/v1/posts/{post_id}/hide": {"json": {"reason": "Off topic."}},
        "POST /api/v1/norms/{norm_id}/suggestions": {"json": {"passage": {"start": 0, "end": 5}, "replacement": "Every"}},
        "POST /api/v1/suggestions/{suggestion_id}/accept": {"json": {}},
        "POST /api/v1/suggestions/{suggestion_id}/decline": {"json": {"reason": "Not now."}},
        "POST /api/v1/suggestions/{suggestion_id}/refresh": {"json": {}},
        "POST /api/v1/norms/{norm_id}/sense-checks": {"json": {"question": "Ready?"}},
        "PUT /api/v1/sense-checks/{check_id}/answer": {"json": {"answer": "agree"}},
        "POST /norms/{norm_id}/threads": {"data": {"body": "A web thread."}},
        "POST /threads/{thread_id}/reply": {"data": {"body": "A web post."}},
        "POST /threads/{thread_id}/status": {"data": {"status": "resolved"}},
        "POST /posts/{post_id}/hide": {"data": {"reason": "Off topic."}},
        "POST /norms/{norm_id}/suggestions": {"data": {"quote": "criteria", "replacement": "rules"}},
        "POST /norms/{norm_id}/sense-checks": {"data": {"question": "Ready?"}},
        "POST /sense-checks/{check_id}/answer": {"data": {"answer": "agree"}},
        "POST /clearinghouse/staff/entries/{entry_id}": {"data": {"summary": "Curated."}},
        "POST /clearinghouse/staff/topics": lambda role: {"data": {"label": f"Web topic {next(_unique)}"}},
        "POST /clearinghouse/staff/collections": lambda role: {"data": {"title": f"Web collection {next(_unique)}"}},
        "POST /clearinghouse/staff/collections/{slug}": {"data": {"title": "Recommenders"}},
        "POST /registrar/{participant_id}/{decision}": {"data": {"note": "Accreditation list 2026."}},
        "POST /api/v1/me/address-proofs": {"json": {"email": "someone@ministry.example"}},
        "POST /api/v1/address-proofs/confirm": {"json": {"token": "not-a-token"}},
        "POST /verification/address": {"data": {"email": "someone@ministry.example"}},
        "GET /prove-address": {"params": {"token": "not-a-token"}},
        "POST /prove-address": {"data": {"token": "not-a-token"}},
    }


# Calls that change what later calls see run after all others, in this order.
LAST = (
    "POST /api/v1/networks/{slug}/join",
    "POST /networks/{slug}/join",
    "POST /api/v1/networks/{slug}/applications/{application_id}/decline",
    "POST /api/v1/networks/{slug}/applications/{application_id}/approve",
    "POST /networks/{slug}/applications/{application_id}/{decision}",
    "POST /api/v1/consultations/{consultation_id}/close",
    "POST /consultations/{consultation_id}/close",
    "POST /api/v1/ballots/{ballot_id}/close",
    "POST /networks/{slug}/norms/{norm_slug}/ballots/{ballot_id}/close",
    "POST /api/v1/sense-checks/{check_id}/close",
    "POST /sense-checks/{check_id}/close",
    "POST /api/v1/networks/{slug}/leave",
    "POST /networks/{slug}/leave",
    "DELETE /api/v1/clearinghouse/entries/{entry_id}",
    "PUT /api/v1/participants/{participant_id}/role",
    "POST /api/v1/auth/logout",
    "POST /signout",
    "POST /settings/sign-out-everywhere",
)
REVOKES = {"POST /api/v1/auth/logout", "POST /signout", "POST /settings/sign-out-everywhere"}


def _path(template: str, world: dict) -> str:
    ids = world["ids"]
    values = {
        "slug": ids["topic_slug"]
        if "/topics/" in template
        else ids["collection_slug"]
        if "collections/" in template
        else ids["gated_slug"]
        if "/applications/" in template
        else ids["slug"],
        "norm_slug": ids["norm_slug"],
        "network": ids["slug"],
        "norm": ids["norm_slug"],
        "version:int": 1,
        "decision": "approve",
        "norm_id": ids["norm_id"],
        "number": 1,
        "ballot_id": ids["ballot_id"],
        "consultation_id": ids["consultation_id"],
        "comment_id": ids["comment_id"],
        "thread_id": ids["thread_id"],
        "post_id": ids["post_id"],
        "suggestion_id": ids["declined_suggestion_id"] if template.endswith("/decline") else ids["suggestion_id"],
        "kind": "refresh",
        "check_id": ids["check_id"],
        "entry_id": ids["entry_id"],
        "participant_id": ids["participant_id"],
        "application_id": ids["application_id"],
        "event_id": ids["event_id"],
        "session_id": "00000000-0000-4000-8000-000000000000",
        "notification_id": ids["notification_id"],
        "notification_id:int": ids["notification_id"],
        "target": "network",
        "action": "follow",
        "language": "fr",
    }
    path = template
    for name, value in values.items():
        path = path.replace("{" + name + "}", str(value))
    return path


def _outcome(response) -> str:
    """The status; for a page's redirect, with the kind of message it flashes (303ok, 303error)."""
    flash = response.cookies.get(FLASH_COOKIE)
    if response.status_code != 303 or not flash or "." not in flash:
        return str(response.status_code)
    body = flash.rsplit(".", 1)[0]
    return f"303{json.loads(base64.urlsafe_b64decode(body + '=' * (-len(body) % 4)))['kind']}"


async def _observe(client, app, world) -> dict[str, str]:
    specs = requests_for(world)
    found = [route for route in routes(app) if route not in ELSEWHERE]
    found.sort(key=lambda route: LAST.index(route) if route in LAST else -1)
    csrf = _mac(app.state.settings, "csrf", CSRF_SEED)
    headers = {role: await sign_in(client, person) for role, person in world["people"].items()}
    observed: dict[str, dict[str, str]] = {}
    for route in found:
        method, template = route.split(" ", 1)
        observed[route] = {}
        for role in ORDER:
            spec = specs.get(route, {})
            spec = spec(role) if callable(spec) else dict(spec)
            request_headers = {CSRF_HEADER: csrf, **spec.pop("headers", {})}
            cookies = {CSRF_COOKIE: CSRF_SEED}
            if role != "anonymous":
                request_headers |= headers[role]
                cookies[SESSION_COOKIE] = headers[role]["Authorization"].removeprefix("Bearer ")
            client.cookies.clear()
            for name, value in cookies.items():
                client.cookies.set(name, value)
            response = await client.request(method, _path(template, world), headers=request_headers, **spec)
            observed[route][role] = _outcome(response)
        if route in REVOKES:
            headers = {role: await sign_in(client, person) for role, person in world["people"].items()}
    return {route: " ".join(statuses[role] for role in ROLES) for route, statuses in observed.items()}


async def test_every_route_answers_each_role_as_the_table_says(client, app, world, clock):
    saved = await client.get(f"/api/v1/norms/{world['ids']['norm_id']}/automerge")
    kinds = {role: kind for role, kind in zip(ORDER, list(Kind)[1:], strict=False)}  # the form below sets the first

    def unsubscribe(role: str) -> str:
        return unsubscribe_token(app.state.settings, uuid.UUID(world["people"]["participant"]["id"]), {kinds[role].value: 0})

    world = world | {
        "clock": clock,
        "saved": saved.content,
        "topic": app.state.settings.base_url + "/feeds/norms.atom",
        "unsubscribe": unsubscribe,
    }
    listed = set(routes(app))
    if os.environ.get("COGOV_PRINT_MATRIX"):  # to review the answers of a new route before adding it to the table
        for route, statuses in (await _observe(client, app, world)).items():
            print(f"    {route!r}: {statuses!r},")
    assert not listed - set(EXPECTED) - set(ELSEWHERE), f"routes missing from the table: {sorted(listed - set(EXPECTED) - set(ELSEWHERE))}"
    observed = await _observe(client, app, world)
    assert not (set(EXPECTED) | set(ELSEWHERE)) - listed, f"the table lists routes that are gone: {sorted(set(EXPECTED) - listed)}"
    wrong = {route: (EXPECTED[route], got) for route, got in observed.items() if EXPECTED[route] != got}
    assert not wrong, (
        "route: (expected, got) in the order " + " ".join(ROLES) + "\n" + "\n".join(f"{r}: {e} ≠ {g}" for r, (e, g) in wrong.items())
    )


# Routes tried by other tests of this suite.
ELSEWHERE = {
    "WS /api/v1/sync": "test_tokens.py and test_origin.py: tickets, revocation, Origin",
    "MOUNT /static": "test_static_files_and_forms_without_csrf below",
    # An endless stream (the table's client reads whole bodies): public like the norm itself, for every role.
    "GET /api/v1/norms/{norm_id}/text/events": "tests/realtime/test_text_events.py: anyone reads; bad ids; per-address limit",
    "GET /api/v1/norms/{norm_id}/versions/{number}/translations/{language}/text/events": (
        "tests/realtime/test_text_events.py: a translation's readers follow it"
    ),
}

# Statuses in the order anonymous participant member convener staff subscriber admin. The participant
# is signed up and a member of nothing; the member is an elector of the council, not a convener;
# staff, subscriber and admin are no members either (until the join rows, run last, let the subscriber in:
# staff and admin take no part, so they cannot found, join, vote or comment).
# Web forms answer 303 with a flash message saying whether it worked (303ok, 303error); a redirect
# without one (to sign in, say) is a plain 303.
EXPECTED: dict[str, str] = {
    "GET /api/openapi.json": "200 200 200 200 200 200 200",
    # Verified affiliations: reading is public; acting needs an account, registrars' acts the registrar role
    # (no role here has it), and an organisation or domain the world does not hold is 404.
    "GET /api/v1/organisations": "200 200 200 200 200 200 200",
    "GET /api/v1/organisations/similar": "422 422 422 422 422 422 422",
    "POST /api/v1/organisations": "401 422 422 422 422 422 422",
    "GET /api/v1/organisations/{slug}": "404 404 404 404 404 404 404",
    "POST /api/v1/organisations/{slug}/domains": "401 422 422 422 422 422 422",
    "POST /api/v1/organisations/{slug}/domains/{domain}/check": "401 404 404 404 404 404 404",
    "POST /api/v1/organisations/{slug}/domains/{domain}/confirm": "401 403 403 403 403 403 403",
    "POST /api/v1/organisations/{slug}/confirm": "401 403 403 403 403 403 403",
    "GET /api/v1/me/verification": "401 200 200 200 200 200 200",
    "GET /api/v1/participants/{participant_id}/verification": "200 200 200 200 200 200 200",
    "POST /api/v1/participants/{participant_id}/vouch": "401 403 403 403 403 403 403",
    "DELETE /api/v1/participants/{participant_id}/vouch": "401 404 404 404 404 404 404",
    "POST /api/v1/me/vouch-requests": "401 422 422 422 422 422 422",
    "GET /api/v1/me/vouch-requests": "401 200 200 200 200 200 200",
    "POST /api/v1/participants/{participant_id}/registrar-verification": "401 403 403 403 403 403 403",
    "POST /api/v1/participants/{participant_id}/revocation": "401 403 403 403 403 403 403",
    "GET /api/v1/registrar/queue": "401 403 403 403 403 403 403",
    "GET /organisations": "200 200 200 200 200 200 200",
    "GET /organisations/{slug}": "404 404 404 404 404 404 404",
    "GET /verification": "303 200 200 200 200 200 200",
    "POST /verification/ask": "401 303error 303error 303error 303error 303error 303error",
    "POST /participants/{participant_id}/vouch": "401 303error 303error 303error 303error 303error 303error",
    # The registrar's queue page and its decisions: registrars only (no role here is one).
    "GET /registrar": "303 403 403 403 403 403 403",
    "POST /registrar/{participant_id}/{decision}": "401 403 403 403 403 403 403",
    # Proving an address at one's organisation: asking needs an account (the world's organisations have no proven
    # domain, so every address is refused, 422); the mailed link works signed out, and a forged one is 400 for all.
    "POST /api/v1/me/address-proofs": "401 422 422 422 422 422 422",
    "POST /api/v1/address-proofs/confirm": "400 400 400 400 400 400 400",
    "POST /verification/address": "401 303error 303error 303error 303error 303error 303error",
    "GET /prove-address": "400 400 400 400 400 400 400",
    "POST /prove-address": "400 400 400 400 400 400 400",
    "GET /api/docs": "200 200 200 200 200 200 200",
    "GET /docs/oauth2-redirect": "200 200 200 200 200 200 200",
    "GET /feeds/norms.atom": "200 200 200 200 200 200 200",
    "GET /feeds/norms.json": "200 200 200 200 200 200 200",
    "GET /feeds/collections/{slug}.atom": "200 200 200 200 200 200 200",
    "GET /feeds/collections/{slug}.json": "200 200 200 200 200 200 200",
    "GET /feeds/consultations.atom": "200 200 200 200 200 200 200",
    "GET /feeds/consultations.json": "200 200 200 200 200 200 200",
    "GET /.well-known/cogov-keys.json": "200 200 200 200 200 200 200",
    "GET /.well-known/cogov-tree-head.json": "200 200 200 200 200 200 200",
    "GET /healthz": "200 200 200 200 200 200 200",
    "GET /readyz": "200 200 200 200 200 200 200",
    "GET /metrics": "200 200 200 200 200 200 200",
    "POST /api/v1/auth/register": "202 202 202 202 202 202 202",
    # Staff and admin sign in with a second factor: the password answers 401 `totp_required` with a challenge.
    "POST /api/v1/auth/token": "401 200 200 200 401 200 401",
    "GET /api/v1/me": "401 200 200 200 200 200 200",
    # Account settings. Staff and admin have two-factor on (they must), so enrolling again is a conflict and a
    # wrong code is a 401 for them, "not enrolled" (409) for the others.
    "POST /api/v1/auth/token/totp": "401 401 401 401 401 401 401",
    "PATCH /api/v1/me": "401 200 200 200 200 200 200",
    "PUT /api/v1/me/password": "401 422 422 422 422 422 422",
    "GET /api/v1/me/sessions": "401 200 200 200 200 200 200",
    "DELETE /api/v1/me/sessions/{session_id}": "401 404 404 404 404 404 404",
    "GET /api/v1/me/export": "401 200 200 200 200 200 200",
    "DELETE /api/v1/me": "401 422 422 422 422 422 422",
    "POST /api/v1/me/two-factor/setup": "401 200 200 200 409 200 409",
    "POST /api/v1/me/two-factor": "401 422 422 422 409 422 409",
    "POST /api/v1/me/two-factor/recovery-codes": "401 409 409 409 401 409 401",
    "DELETE /api/v1/me/two-factor": "401 422 422 422 422 422 422",
    "POST /signin/code": "303error 303error 303error 303error 303error 303error 303error",
    "GET /me": "303 303 303 303 303 303 303",
    "GET /settings": "303 200 200 200 200 200 200",
    "POST /settings/name": "401 303ok 303ok 303ok 303ok 303ok 303ok",
    "POST /settings/password": "401 422 422 422 422 422 422",
    "POST /settings/sessions/{session_id}/revoke": "401 303error 303error 303error 303error 303error 303error",
    "GET /settings/export": "303 200 200 200 200 200 200",
    "GET /settings/delete": "303 200 200 200 200 200 200",
    "POST /settings/delete": "401 422 422 422 422 422 422",
    "GET /settings/two-factor": "303 200 200 200 200 200 200",
    # Notifications: one's own list, preferences and follows; follower counts and a network's activity are
    # public (who follows is not); the unsubscribe link is the key, so it works without a session.
    "GET /api/v1/me/notifications": "401 200 200 200 200 200 200",
    "POST /api/v1/me/notifications/{notification_id}/read": "401 204 204 204 204 204 204",
    "POST /api/v1/me/notifications/read-all": "401 204 204 204 204 204 204",
    "GET /api/v1/me/notification-preferences": "401 200 200 200 200 200 200",
    "PATCH /api/v1/me/notification-preferences": "401 200 200 200 200 200 200",
    "GET /api/v1/me/follows": "401 200 200 200 200 200 200",
    "POST /api/v1/me/follows": "401 200 200 200 200 200 200",
    "DELETE /api/v1/me/follows": "401 200 200 200 200 200 200",
    "GET /api/v1/followers": "200 200 200 200 200 200 200",
    "GET /feeds/networks/{slug}/activity.atom": "200 200 200 200 200 200 200",
    "GET /feeds/networks/{slug}/activity.json": "200 200 200 200 200 200 200",
    "GET /notifications": "303 200 200 200 200 200 200",
    "GET /notifications/{notification_id:int}": "303 303 303 303 303 303 303",
    "POST /notifications/read-all": "401 303ok 303ok 303ok 303ok 303ok 303ok",
    "POST /notifications/{notification_id:int}/read": "401 303 303 303 303 303 303",
    "GET /settings/notifications": "303 200 200 200 200 200 200",
    "POST /settings/notifications": "401 303ok 303ok 303ok 303ok 303ok 303ok",
    "POST /follows/{target}/{action}": "401 303ok 303ok 303ok 303ok 303ok 303ok",
    "GET /notifications/unsubscribe": "200 200 200 200 200 200 200",
    "POST /notifications/unsubscribe": "200 200 200 200 200 200 200",
    # Choosing the interface's language: anyone, signed in or not.
    "POST /language": "303 303 303 303 303 303 303",
    "POST /settings/two-factor": "401 303error 303error 303error 303error 303error 303error",
    "POST /settings/two-factor/recovery-codes": "401 422 422 422 422 422 422",
    "POST /settings/two-factor/disable": "401 422 422 422 422 422 422",
    "POST /settings/sign-out-everywhere": "401 303ok 303ok 303ok 303ok 303ok 303ok",
    "GET /api/v1/participants": "401 403 403 403 200 403 200",
    "GET /api/v1/audit": "200 200 200 200 200 200 200",
    "GET /api/v1/search": "200 200 200 200 200 200 200",
    "GET /api/v1/audit/tree-head": "200 200 200 200 200 200 200",
    "GET /api/v1/audit/tree-heads": "200 200 200 200 200 200 200",
    "GET /api/v1/audit/tree-heads/{number}": "200 200 200 200 200 200 200",
    "GET /api/v1/audit/proofs/inclusion": "200 200 200 200 200 200 200",
    "GET /api/v1/audit/proofs/consistency": "200 200 200 200 200 200 200",
    "GET /api/v1/taxonomy": "200 200 200 200 200 200 200",
    "PUT /api/v1/me/affiliation": "401 200 200 200 200 200 200",
    "GET /api/v1/me/affiliation": "401 200 200 200 200 200 200",
    "GET /api/v1/me/affiliation/history": "401 200 200 200 200 200 200",
    "POST /api/v1/networks": "401 201 201 201 403 201 403",
    "GET /api/v1/networks": "200 200 200 200 200 200 200",
    "GET /api/v1/networks/{slug}": "200 200 200 200 200 200 200",
    "PATCH /api/v1/networks/{slug}/charter": "401 403 403 200 403 403 403",
    "GET /api/v1/networks/{slug}/charters": "200 200 200 200 200 200 200",
    "GET /api/v1/networks/{slug}/applications": "401 403 403 200 403 403 403",
    "POST /api/v1/networks/{slug}/conveners": "401 403 403 200 403 403 403",
    "GET /api/v1/networks/{slug}/members": "200 200 200 200 200 200 200",
    "GET /api/v1/networks/{slug}/formation": "200 200 200 200 200 200 200",
    "POST /api/v1/networks/{slug}/norms": "401 403 201 201 403 403 403",
    "GET /api/v1/networks/{slug}/norms": "200 200 200 200 200 200 200",
    "GET /api/v1/norms/{norm_id}": "200 200 200 200 200 200 200",
    "POST /api/v1/norms/{norm_id}/edits": "401 403 200 200 403 403 403",
    "GET /api/v1/norms/{norm_id}/automerge": "200 200 200 200 200 200 200",
    "POST /api/v1/norms/{norm_id}/automerge": "401 403 200 200 403 403 403",
    "POST /api/v1/norms/{norm_id}/versions": "401 403 201 201 403 403 403",
    "GET /api/v1/norms/{norm_id}/versions": "200 200 200 200 200 200 200",
    "GET /api/v1/norms/{norm_id}/versions/{number}": "200 200 200 200 200 200 200",
    "POST /api/v1/norms/{norm_id}/versions/{number}/translations": "401 403 201 201 403 403 403",
    "GET /api/v1/norms/{norm_id}/versions/{number}/translations": "200 200 200 200 200 200 200",
    "GET /api/v1/norms/{norm_id}/versions/{number}/translations/{language}": "200 200 200 200 200 200 200",
    "POST /api/v1/norms/{norm_id}/versions/{number}/translations/{language}/edits": "401 403 200 200 403 403 403",
    "POST /api/v1/norms/{norm_id}/versions/{number}/translations/{language}/review": "401 403 403 200 403 403 403",
    "GET /api/v1/norms/{norm_id}/diff": "200 200 200 200 200 200 200",
    "GET /api/v1/norms/{norm_id}/history": "200 200 200 200 200 200 200",
    "GET /api/v1/norms/{norm_id}/text": "200 200 200 200 200 200 200",
    "GET /api/v1/norms/{norm_id}/authorship": "200 200 200 200 200 200 200",
    "POST /api/v1/norms/{norm_id}/ballots": "401 403 403 409 403 403 403",
    "GET /api/v1/norms/{norm_id}/ballots": "200 200 200 200 200 200 200",
    "GET /api/v1/norms/{norm_id}/adoptions": "200 200 200 200 200 200 200",
    "GET /api/v1/ballots/{ballot_id}": "200 200 200 200 200 200 200",
    "PUT /api/v1/ballots/{ballot_id}/vote": "401 403 200 200 403 403 403",
    "POST /api/v1/ballots/{ballot_id}/what-if": "200 200 200 200 200 200 200",
    "POST /api/v1/norms/{norm_id}/consultations": "401 403 403 201 403 403 403",
    "GET /api/v1/norms/{norm_id}/consultations": "200 200 200 200 200 200 200",
    "GET /api/v1/consultations": "200 200 200 200 200 200 200",
    "GET /api/v1/consultations/{consultation_id}": "200 200 200 200 200 200 200",
    "GET /api/v1/consultations/{consultation_id}/comments": "200 200 200 200 200 200 200",
    "POST /api/v1/consultations/{consultation_id}/comments": "401 201 201 201 403 201 403",
    "GET /api/v1/consultations/{consultation_id}/anchors": "200 200 200 200 200 200 200",
    "POST /api/v1/comments/{comment_id}/replies": "401 403 201 201 403 403 403",
    "PUT /api/v1/comments/{comment_id}/resolution": "401 403 200 200 403 403 403",
    "POST /api/v1/comments/{comment_id}/hide": "401 403 403 200 403 403 403",
    "GET /api/v1/norms/{norm_id}/threads": "200 200 200 200 200 200 200",
    "POST /api/v1/norms/{norm_id}/threads": "401 403 201 201 403 403 403",
    "GET /api/v1/threads/{thread_id}": "200 200 200 200 200 200 200",
    "POST /api/v1/threads/{thread_id}/posts": "401 403 201 201 403 403 403",
    "PUT /api/v1/threads/{thread_id}/status": "401 403 200 200 403 403 403",
    "POST /api/v1/posts/{post_id}/hide": "401 403 403 200 403 403 403",
    "GET /api/v1/norms/{norm_id}/suggestions": "200 200 200 200 200 200 200",
    "POST /api/v1/norms/{norm_id}/suggestions": "401 201 201 201 403 201 403",
    "GET /api/v1/suggestions/{suggestion_id}": "200 200 200 200 200 200 200",
    "POST /api/v1/suggestions/{suggestion_id}/accept": "401 403 200 409 403 403 403",
    "POST /api/v1/suggestions/{suggestion_id}/decline": "401 403 200 409 403 403 403",
    "POST /api/v1/suggestions/{suggestion_id}/refresh": "401 403 403 403 403 403 403",
    "GET /api/v1/norms/{norm_id}/sense-checks": "200 200 200 200 200 200 200",
    "POST /api/v1/norms/{norm_id}/sense-checks": "401 403 403 201 403 403 403",
    "GET /api/v1/sense-checks/{check_id}": "200 200 200 200 200 200 200",
    "PUT /api/v1/sense-checks/{check_id}/answer": "401 403 200 200 403 403 403",
    "GET /networks/{slug}/norms/{norm_slug}/discussion": "200 200 200 200 200 200 200",
    "POST /norms/{norm_id}/threads": "401 403 303ok 303ok 403 403 403",
    "POST /threads/{thread_id}/reply": "401 403 303ok 303ok 403 403 403",
    "POST /threads/{thread_id}/status": "401 403 303ok 303ok 403 403 403",
    "POST /posts/{post_id}/hide": "401 403 403 303ok 403 403 403",
    "POST /norms/{norm_id}/suggestions": "401 303ok 303ok 303ok 403 303ok 403",
    "POST /suggestions/{suggestion_id}/{kind}": "401 403 403 403 403 403 403",
    "POST /norms/{norm_id}/sense-checks": "401 403 403 303ok 403 403 403",
    "GET /networks/{slug}/norms/{norm_slug}/sense-checks/{check_id}": "200 200 200 200 200 200 200",
    "POST /sense-checks/{check_id}/answer": "401 403 303ok 303ok 403 403 403",
    "POST /api/v1/sense-checks/{check_id}/close": "401 403 403 200 403 403 403",
    "POST /sense-checks/{check_id}/close": "401 303error 303error 303ok 303error 303error 303error",
    "POST /api/v1/sync/tickets": "401 201 201 201 201 201 201",
    "GET /api/v1/sync/stats": "401 403 403 403 200 403 200",
    "GET /api/v1/clearinghouse/entries/{entry_id}/akn.xml": "200 200 200 200 200 200 200",
    "GET /api/v1/clearinghouse/entries/{entry_id}.md": "200 200 200 200 200 200 200",
    "GET /api/v1/clearinghouse/entries/{entry_id}.txt": "200 200 200 200 200 200 200",
    "GET /api/v1/clearinghouse/entries/{entry_id}/follow-up": "200 200 200 200 200 200 200",
    "PUT /api/v1/clearinghouse/entries/{entry_id}/follow-up": "401 403 403 403 403 200 403",
    "POST /api/v1/clearinghouse/receipt-token": "401 403 403 403 403 201 403",
    "POST /api/v1/clearinghouse/subscribers": "401 403 403 403 200 403 200",
    "GET /api/v1/clearinghouse/entries": "200 200 200 200 200 200 200",
    "GET /api/v1/clearinghouse/entries/{entry_id}": "200 200 200 200 200 200 200",
    "PUT /api/v1/clearinghouse/entries/{entry_id}": "401 403 403 403 403 403 403",
    "PATCH /api/v1/clearinghouse/entries/{entry_id}": "401 403 403 403 403 403 403",
    "PATCH /api/v1/clearinghouse/entries/{entry_id}/curation": "401 403 403 403 200 403 200",
    "GET /api/v1/clearinghouse/topics": "200 200 200 200 200 200 200",
    "POST /api/v1/clearinghouse/topics": "401 403 403 403 201 403 201",
    "PATCH /api/v1/clearinghouse/topics/{slug}": "401 403 403 403 200 403 200",
    "GET /api/v1/clearinghouse/collections": "200 200 200 200 200 200 200",
    "POST /api/v1/clearinghouse/collections": "401 403 403 403 201 403 201",
    "GET /api/v1/clearinghouse/collections/{slug}": "200 200 200 200 200 200 200",
    "PATCH /api/v1/clearinghouse/collections/{slug}": "401 403 403 403 200 403 200",
    "GET /api/v1/websub/subscriptions": "404 404 404 404 404 404 404",
    "POST /websub": "422 422 422 422 422 422 422",
    "GET /clearinghouse": "200 200 200 200 200 200 200",
    "GET /clearinghouse/{network}/{norm}/v{version:int}": "200 200 200 200 200 200 200",
    "GET /clearinghouse/collections/{slug}": "200 200 200 200 200 200 200",
    "GET /clearinghouse/topics": "200 200 200 200 200 200 200",
    "GET /clearinghouse/subscribe": "200 200 200 200 200 200 200",
    "GET /clearinghouse/in-force": "200 200 200 200 200 200 200",
    "GET /clearinghouse/staff": "303 403 403 403 200 403 200",
    "GET /clearinghouse/staff/entries/{entry_id}": "303 403 403 403 200 403 200",
    "GET /clearinghouse/staff/publication": "303 403 403 403 200 403 200",
    "POST /clearinghouse/staff/publication/{event_id}/retry": "401 403 403 403 404 403 404",
    "GET /api/v1/clearinghouse/publication": "401 403 403 403 200 403 200",
    "POST /api/v1/clearinghouse/publication/{event_id}/retry": "401 403 403 403 404 403 404",
    "POST /clearinghouse/staff/entries/{entry_id}": "401 403 403 403 303ok 403 303ok",
    "POST /clearinghouse/staff/entries/{entry_id}/reviewed": "401 403 403 403 303ok 403 303ok",
    "POST /clearinghouse/staff/topics": "401 403 403 403 303ok 403 303ok",
    "POST /clearinghouse/staff/collections": "401 403 403 403 303ok 403 303ok",
    "GET /clearinghouse/staff/collections/{slug}": "303 403 403 403 200 403 200",
    "POST /clearinghouse/staff/collections/{slug}": "401 403 403 403 303ok 403 303ok",
    "GET /": "200 200 200 200 200 200 200",
    "GET /networks": "200 200 200 200 200 200 200",
    "GET /norms": "200 200 200 200 200 200 200",
    "GET /search": "200 200 200 200 200 200 200",
    "GET /networks/new": "303 200 200 200 200 200 200",
    "POST /networks/new": "401 303ok 303ok 303ok 422 303ok 422",
    "GET /networks/{slug}": "200 200 200 200 200 200 200",
    "GET /networks/{slug}/leave": "303 200 200 200 200 200 200",
    "GET /networks/{slug}/charter": "200 200 200 200 200 200 200",
    "POST /networks/{slug}/charter": "401 403 403 303ok 403 403 403",
    "POST /networks/{slug}/conveners": "401 303error 303error 303ok 303error 303error 303error",
    "GET /signup": "200 200 200 200 200 200 200",
    "POST /signup": "303ok 303ok 303ok 303ok 303ok 303ok 303ok",
    "GET /signin": "200 200 200 200 200 200 200",
    "POST /signin": "401 303ok 303ok 303ok 200 303ok 200",
    "GET /me/affiliation": "303 200 200 200 200 200 200",
    "POST /me/affiliation": "401 303ok 303ok 303ok 303ok 303ok 303ok",
    # Mailed links: the tokens tried are no link's (400, nothing changed); everyone in the table has a proven address.
    "POST /api/v1/auth/verify-email": "400 400 400 400 400 400 400",
    "POST /api/v1/auth/verify-email/resend": "401 409 409 409 409 409 409",
    "POST /api/v1/auth/forgot-password": "202 202 202 202 202 202 202",
    "POST /api/v1/auth/reset-password": "400 400 400 400 400 400 400",
    "PUT /api/v1/me/email": "401 202 202 202 202 202 202",
    "POST /api/v1/auth/confirm-email": "400 400 400 400 400 400 400",
    "GET /verify-email": "400 400 400 400 400 400 400",
    "POST /verify-email": "400 400 400 400 400 400 400",
    "POST /verify-email/resend": "401 303ok 303ok 303ok 303ok 303ok 303ok",
    "GET /forgot-password": "200 200 200 200 200 200 200",
    "POST /forgot-password": "303ok 303ok 303ok 303ok 303ok 303ok 303ok",
    "GET /reset-password": "400 400 400 400 400 400 400",
    "POST /reset-password": "400 400 400 400 400 400 400",
    "GET /settings/email": "303 200 200 200 200 200 200",
    "POST /settings/email": "401 303ok 303ok 303ok 303ok 303ok 303ok",
    "GET /confirm-email": "400 400 400 400 400 400 400",
    "POST /confirm-email": "400 400 400 400 400 400 400",
    "POST /networks/{slug}/norms": "401 403 303ok 303ok 403 403 403",
    "GET /networks/{slug}/norms/{norm_slug}": "200 200 200 200 200 200 200",
    "POST /networks/{slug}/norms/{norm_slug}/edit": "401 303error 303ok 303ok 303error 303error 303error",
    "POST /networks/{slug}/norms/{norm_slug}/versions": "401 403 303ok 303ok 403 403 403",
    "GET /networks/{slug}/norms/{norm_slug}/versions/{number}": "200 200 200 200 200 200 200",
    "POST /networks/{slug}/norms/{norm_slug}/versions/{number}/translations": "401 403 303ok 303ok 403 403 403",
    "GET /networks/{slug}/norms/{norm_slug}/versions/{number}/translations/{language}": "200 200 200 200 200 200 200",
    "POST /networks/{slug}/norms/{norm_slug}/versions/{number}/translations/{language}/review": (
        "401 303error 303error 303ok 303error 303error 303error"
    ),
    "POST /networks/{slug}/norms/{norm_slug}/versions/{number}/translations/{language}/edit": (
        "401 303error 303ok 303ok 303error 303error 303error"
    ),
    "GET /networks/{slug}/norms/{norm_slug}/diff": "200 200 200 200 200 200 200",
    "GET /networks/{slug}/norms/{norm_slug}/history": "200 200 200 200 200 200 200",
    "POST /web/sync-ticket": "401 201 201 201 201 201 201",
    "GET /networks/{slug}/norms/{norm_slug}/ballots/{ballot_id}": "200 200 200 200 200 200 200",
    "GET /networks/{slug}/norms/{norm_slug}/ballots/{ballot_id}/live": "200 200 200 200 200 200 200",
    "POST /networks/{slug}/norms/{norm_slug}/ballots": "401 403 403 409 403 403 403",
    "POST /networks/{slug}/norms/{norm_slug}/ballots/{ballot_id}/vote": "401 403 303ok 303ok 403 403 403",
    "GET /audit": "200 200 200 200 200 200 200",
    "GET /sw.js": "200 200 200 200 200 200 200",
    "GET /consultations/{consultation_id}": "200 200 200 200 200 200 200",
    "POST /norms/{norm_id}/consultations": "401 403 403 303ok 403 403 403",
    "POST /consultations/{consultation_id}/comments": "401 303ok 303ok 303ok 403 303ok 403",
    "POST /comments/{comment_id}/reply": "401 403 303ok 303ok 403 403 403",
    "POST /comments/{comment_id}/resolve": "401 403 303ok 303ok 403 403 403",
    "POST /comments/{comment_id}/hide": "401 403 403 303ok 403 403 403",
    "POST /api/v1/networks/{slug}/join": "401 201 409 409 403 201 403",
    "POST /networks/{slug}/join": "401 409 409 409 403 409 403",
    "POST /api/v1/networks/{slug}/applications/{application_id}/decline": "401 403 403 200 403 403 403",
    "POST /api/v1/networks/{slug}/applications/{application_id}/approve": "401 403 403 409 403 403 403",
    "POST /networks/{slug}/applications/{application_id}/{decision}": "401 403 403 409 403 403 403",
    "POST /api/v1/consultations/{consultation_id}/close": "401 403 403 200 403 403 403",
    "POST /consultations/{consultation_id}/close": "401 303error 303error 303ok 303error 303error 303error",
    "POST /api/v1/ballots/{ballot_id}/close": "401 403 403 409 403 403 403",
    "POST /networks/{slug}/norms/{norm_slug}/ballots/{ballot_id}/close": "401 303error 303error 303error 303error 303error 303error",
    "POST /api/v1/networks/{slug}/leave": "401 204 204 204 403 204 403",
    "POST /networks/{slug}/leave": "401 303error 303error 303error 303error 303error 303error",
    "DELETE /api/v1/clearinghouse/entries/{entry_id}": "401 403 403 403 403 403 403",
    "PUT /api/v1/participants/{participant_id}/role": "401 403 403 403 403 403 200",
    "POST /api/v1/auth/logout": "401 204 204 204 204 204 204",
    "POST /signout": "303ok 303ok 303ok 303ok 303ok 303ok 303ok",
}


async def test_static_files_and_forms_without_csrf(client, world):
    """Static files are public; a form posted without this browser's CSRF token is refused, signed in or not."""
    assert (await client.get("/static/site.css")).status_code == 200
    member = world["people"]["member"]
    client.cookies.set(SESSION_COOKIE, (await sign_in(client, member))["Authorization"].removeprefix("Bearer "))
    forged = await client.post(f"/networks/{world['ids']['slug']}/norms", data={"title": "Forged", "text": "From another site."})
    assert forged.status_code == 403
    client.cookies.set(CSRF_COOKIE, CSRF_SEED)
    wrong = await client.post(
        f"/networks/{world['ids']['slug']}/norms", data={"title": "Forged", "text": "Stale token."}, headers={CSRF_HEADER: "not-the-token"}
    )
    assert wrong.status_code == 403
    norms = (await client.get(f"/api/v1/networks/{world['ids']['slug']}/norms")).json()
    assert not [norm for norm in norms if norm["title"] == "Forged"]
