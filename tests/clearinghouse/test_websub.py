"""The WebSub hub end to end, with a real subscriber on 127.0.0.1: subscribe, verify, adopt through a real ballot,
receive the feed, check the HMAC; retries, unsubscribe, lease expiry, 410, and every refusal."""

from __future__ import annotations

import json
from datetime import timedelta

import feedparser
from sqlalchemy import select

from services.clearinghouse.models import Delivery, DeliveryStatus
from services.clearinghouse.websub import proof_for
from tests.clearinghouse.subscriber import Subscriber, hub_signature
from tests.fixtures.clearinghouse import adopt
from tests.fixtures.norms import TEXT

BASE = "http://127.0.0.1:8000"
ATOM = f"{BASE}/feeds/norms.atom"
JSON_FEED = f"{BASE}/feeds/norms.json"
SECRET = "a shared secret between hub and subscriber"


async def subscribe(
    client, callback: str, topic: str = ATOM, *, mode: str = "subscribe", secret: str | None = SECRET, lease: int | None = None
):
    form = {"hub.mode": mode, "hub.topic": topic, "hub.callback": callback}
    if secret is not None:
        form["hub.secret"] = secret
    if lease is not None:
        form["hub.lease_seconds"] = str(lease)
    return await client.post("/websub", data=form)


async def subscribed(client, worker, callback: str, topic: str = ATOM, **options) -> None:
    response = await subscribe(client, callback, topic, **options)
    assert response.status_code == 202, response.text
    assert await worker.verify_pending() == 1


async def status(client, callback: str, topic: str = ATOM, secret: str | None = SECRET, headers: dict | None = None) -> dict:
    proof = {"X-Hub-Signature": proof_for(secret, callback)} if secret else {}
    response = await client.get(
        "/api/v1/websub/subscriptions", params={"callback": callback, "topic": topic}, headers=proof | (headers or {})
    )
    assert response.status_code == 200, response.text
    return response.json()


async def deliveries(app) -> list[Delivery]:
    async with app.state.sessionmaker() as session:
        return list((await session.scalars(select(Delivery).order_by(Delivery.id))).all())


async def test_subscribe_verify_adopt_and_receive_the_signed_feed(client, app, council, clock, worker, subscriber):
    callback = subscriber.url("/hooks/cogov?token=abc")
    response = await subscribe(client, callback, lease=3600)
    assert response.status_code == 202
    assert subscriber.verifications == []  # verification is asynchronous
    assert (await status(client, callback))["state"] == "pending"

    assert await worker.verify_pending() == 1
    [check] = subscriber.verifications
    assert (check["hub.mode"], check["hub.topic"], check["hub.lease_seconds"], check["token"]) == ("subscribe", ATOM, "3600", "abc")
    assert len(check["hub.challenge"]) >= 32
    state = await status(client, callback)
    assert (state["state"], state["lease_seconds"]) == ("active", 3600)

    await adopt(client, council, clock)
    await worker.run_once()  # publishes, then delivers
    [received] = subscriber.deliveries
    assert received.path == "/hooks/cogov"
    assert received.headers["content-type"] == "application/atom+xml; charset=utf-8"
    assert received.headers["x-hub-signature"] == hub_signature(SECRET, received.body)
    assert received.headers["link"] == f'<{BASE}/websub>; rel="hub", <{ATOM}>; rel="self"'
    feed = feedparser.parse(received.body)
    assert feed.bozo == 0
    [entry] = feed.entries
    assert entry.id == f"urn:cogov:norm:{council['slug']}:{council['norm']['slug']}:v1"
    assert entry.content[0].value == TEXT

    state = await status(client, callback)
    [delivered] = state["deliveries"]
    assert (delivered["status"], delivered["attempts"], delivered["entries"]) == ("delivered", 1, [entry.id])
    assert delivered["recent_attempts"][0]["status_code"] == 204

    await worker.run_once()
    assert len(subscriber.deliveries) == 1  # delivered once acknowledged


async def test_a_json_feed_subscriber_without_a_secret_gets_the_json_feed_unsigned(client, app, council, clock, worker, subscriber):
    await subscribed(client, worker, subscriber.url(), JSON_FEED, secret=None)
    await adopt(client, council, clock)
    await worker.run_once()
    [received] = subscriber.deliveries
    assert received.headers["content-type"] == "application/feed+json; charset=utf-8"
    assert "x-hub-signature" not in received.headers
    document = json.loads(received.body)
    assert document["hubs"] == [{"type": "WebSub", "url": f"{BASE}/websub"}]
    assert [item["content_text"] for item in document["items"]] == [TEXT]


async def test_a_subscriber_failing_three_times_then_succeeding_receives_it_once(client, app, council, clock, worker, subscriber):
    subscriber.replies = [500, 503, 502]
    await subscribed(client, worker, subscriber.url())
    await adopt(client, council, clock)
    await worker.run_once()
    [delivery] = await deliveries(app)
    waits = []
    for attempt in range(1, 4):
        assert (delivery.status, delivery.attempts) == (DeliveryStatus.pending, attempt)
        waits.append(delivery.next_attempt_at - clock.now())
        assert await worker.deliver_due() == 0  # not due yet: backoff
        clock.advance(hours=1)
        await worker.deliver_due()
        [delivery] = await deliveries(app)
    assert delivery.status is DeliveryStatus.delivered and delivery.attempts == 4
    assert [d.status for d in subscriber.deliveries] == [500, 503, 502, 204]
    assert timedelta(seconds=5) <= waits[0] <= timedelta(seconds=10) and timedelta(seconds=10) <= waits[1] <= timedelta(seconds=20)
    history = (await status(client, subscriber.url()))["deliveries"][0]
    assert [a["status_code"] for a in history["recent_attempts"]] == [204, 502, 503, 500]
    assert history["recent_attempts"][1]["error"] == "the callback answered 502"


async def test_a_hanging_subscriber_and_one_that_recovers_after_ten_failures_are_retried_until_success(
    client, app, council, clock, worker, subscriber
):
    subscriber.delay = 3  # longer than the test settings' 2 s callback timeout
    subscriber.replies = [500]  # what the hanging request answers once the hub has stopped waiting
    await subscribed(client, worker, subscriber.url())
    await adopt(client, council, clock)
    await worker.run_once()
    [delivery] = await deliveries(app)
    assert delivery.status is DeliveryStatus.pending and "no answer within 2 s" in delivery.last_error
    subscriber.delay = 0
    subscriber.replies = [500] * 9
    for _ in range(9):
        clock.advance(hours=1)
        await worker.deliver_due()
    [delivery] = await deliveries(app)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.pending, 10)
    clock.advance(hours=1)
    await worker.deliver_due()
    [delivery] = await deliveries(app)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.delivered, 11)
    assert len(subscriber.accepted()) == 1


async def test_unsubscribing_stops_deliveries(client, app, council, clock, worker, subscriber):
    other = await Subscriber().start()
    try:
        await subscribed(client, worker, subscriber.url())
        await subscribed(client, worker, other.url())
        subscriber.default_status = 500  # the first delivery will still be pending when it unsubscribes
        await adopt(client, council, clock)
        await worker.run_once()
        response = await subscribe(client, subscriber.url(), mode="unsubscribe")
        assert response.status_code == 202
        assert await worker.verify_pending() == 1
        assert subscriber.verifications[-1]["hub.mode"] == "unsubscribe"
        clock.advance(hours=1)
        await worker.run_once()
        assert len(subscriber.deliveries) == 1 and len(other.deliveries) == 1
        state = await status(client, subscriber.url())
        assert state["state"] == "unsubscribed" and state["deliveries"][0]["status"] == "unsubscribed"
        assert (await status(client, other.url()))["state"] == "active"
    finally:
        await other.stop()


async def test_an_expired_lease_stops_deliveries(client, app, council, clock, worker, subscriber):
    await subscribed(client, worker, subscriber.url(), lease=120)
    clock.advance(seconds=121)
    await adopt(client, council, clock)
    await worker.run_once()
    assert subscriber.deliveries == [] and await deliveries(app) == []
    state = await status(client, subscriber.url())
    assert state["state"] == "expired" and "lease ended" in state["reason"]


async def test_a_lease_that_expires_while_a_delivery_is_retried_ends_it(client, app, council, clock, worker, subscriber):
    subscriber.default_status = 503
    await subscribed(client, worker, subscriber.url(), lease=600)
    await adopt(client, council, clock)
    await worker.run_once()
    clock.advance(hours=1)
    await worker.run_once()
    [delivery] = await deliveries(app)
    assert delivery.status is DeliveryStatus.expired and len(subscriber.deliveries) == 1


async def test_410_gone_ends_the_subscription(client, app, council, clock, worker, subscriber):
    subscriber.replies = [410]
    await subscribed(client, worker, subscriber.url())
    await adopt(client, council, clock)
    await worker.run_once()
    state = await status(client, subscriber.url())
    assert state["state"] == "gone" and state["deliveries"][0]["status"] == "gone"


async def test_resubscribing_renews_the_lease_and_replaces_the_secret(client, app, council, clock, worker, subscriber):
    await subscribed(client, worker, subscriber.url(), lease=600)
    clock.advance(seconds=500)
    await subscribed(client, worker, subscriber.url(), lease=600, secret="a new secret")
    clock.advance(seconds=500)
    await adopt(client, council, clock)
    await worker.run_once()
    [received] = subscriber.deliveries
    assert received.headers["x-hub-signature"] == hub_signature("a new secret", received.body)


async def test_only_the_verified_subscriptions_secret_shows_its_status_and_a_change_waits_for_the_callback(
    client, app, council, clock, worker, subscriber
):
    subscriber.confirm_secrets = [SECRET]
    callback = subscriber.url()
    await subscribed(client, worker, callback)
    assert subscriber.verifications[-1]["signature"] == hub_signature(SECRET, subscriber.verifications[-1]["hub.challenge"].encode())
    params = {"callback": callback, "topic": ATOM}

    # Someone who knows the callback and topic asks to replace the secret, or to drop it.
    mallory = "mallory's own secret"
    assert (await subscribe(client, callback, secret=mallory)).status_code == 202
    assert (await subscribe(client, callback, secret=None)).status_code == 202
    proof = {"X-Hub-Signature": proof_for(mallory, callback)}
    assert (await client.get("/api/v1/websub/subscriptions", params=params, headers=proof)).status_code == 403

    # Until the callback confirms, the subscription and its secret stay: deliveries are signed with it.
    await adopt(client, council, clock)
    assert await worker.publish_pending() == 1
    await worker.deliver_due()
    [received] = subscriber.deliveries
    assert received.headers["x-hub-signature"] == hub_signature(SECRET, received.body)

    # The callback does not confirm secrets it did not ask for: both requests are refused, nothing changes.
    assert await worker.verify_pending() == 2
    asked = subscriber.verifications[-2:]
    assert asked[0]["signature"] == hub_signature(mallory, asked[0]["hub.challenge"].encode()) and asked[1]["signature"] is None
    assert (await client.get("/api/v1/websub/subscriptions", params=params, headers=proof)).status_code == 403
    assert (await client.get("/api/v1/websub/subscriptions", params=params)).status_code == 403
    state = await status(client, callback)
    assert state["state"] == "active" and len(state["deliveries"]) == 1
    assert [r["status"] for r in state["requests"]] == ["refused", "refused", "verified"]


async def test_a_subscriber_that_changes_its_secret_confirms_it_and_then_only_the_new_one_counts(client, worker, subscriber):
    subscriber.confirm_secrets = [SECRET, "the next secret"]
    callback = subscriber.url()
    await subscribed(client, worker, callback)
    await subscribed(client, worker, callback, secret="the next secret")
    assert (await status(client, callback, secret="the next secret"))["state"] == "active"
    old = {"X-Hub-Signature": proof_for(SECRET, callback)}
    assert (await client.get("/api/v1/websub/subscriptions", params={"callback": callback, "topic": ATOM}, headers=old)).status_code == 403


async def test_leases_are_ten_days_by_default_and_thirty_at_most(client, worker, subscriber):
    await subscribed(client, worker, subscriber.url())
    assert subscriber.verifications[-1]["hub.lease_seconds"] == str(10 * 24 * 3600)
    await subscribed(client, worker, subscriber.url(), lease=90 * 24 * 3600)
    assert subscriber.verifications[-1]["hub.lease_seconds"] == str(30 * 24 * 3600)


async def test_refused_subscriptions_say_why(client, app, worker, subscriber, settings, staff):
    async def refused_later(callback: str, reason: str) -> None:
        assert (await subscribe(client, callback)).status_code == 202
        assert await worker.verify_pending() == 1
        state = await status(client, callback)
        assert state["state"] == "refused" and reason in state["reason"], state

    # A callback nobody answers, one that echoes the wrong challenge, one that refuses.
    await refused_later("http://127.0.0.1:9/nothing-listens", "intent verification failed")
    subscriber.echo = "wrong"
    await refused_later(subscriber.url("/wrong"), "did not echo hub.challenge")
    subscriber.echo = "refuse"
    await refused_later(subscriber.url("/refuse"), "answered 404 to intent verification")

    async def refused_now(form: dict, reason: str) -> None:
        response = await client.post("/websub", data={"hub.mode": "subscribe", "hub.topic": ATOM, "hub.callback": subscriber.url()} | form)
        assert response.status_code == 422, response.text
        assert reason in response.json()["detail"]

    await refused_now({"hub.callback": "ftp://example.org/feed"}, "must be an http or https URL")
    await refused_now({"hub.callback": "not a url"}, "must be an http or https URL")
    await refused_now({"hub.topic": "https://elsewhere.example/feeds/norms.atom"}, "must be a feed of this clearing house")
    await refused_now({"hub.topic": f"{BASE}/api/v1/networks"}, "must be a feed of this clearing house")
    await refused_now({"hub.topic": f"{BASE}/feeds/norms.atom?network=no-such-network"}, "No network 'no-such-network'")
    await refused_now({"hub.topic": f"{BASE}/feeds/collections/none.atom"}, "No collection 'none'")
    await refused_now({"hub.secret": "s" * 200}, "shorter than 200 bytes")
    await refused_now({"hub.secret": "é" * 100}, "shorter than 200 bytes")
    await refused_now({"hub.mode": "publish"}, "hub.mode must be subscribe or unsubscribe")
    await refused_now({"hub.lease_seconds": "-5"}, "whole number of seconds")
    # The refusal of a well-formed request is kept, with its reason, for the status endpoint.
    state = await status(client, "ftp://example.org/feed", secret=None, headers=staff["headers"])
    assert state["state"] == "refused" and "http or https" in state["reason"]
    assert subscriber.verifications == [] or all(v["path"] != "/callback" for v in subscriber.verifications)


async def test_private_callbacks_are_refused_unless_allowed(client, app, worker, settings):
    settings.allow_private_callbacks = False
    for callback in (
        "http://127.0.0.1:8080/cb",
        "http://10.1.2.3/cb",
        "http://169.254.169.254/latest",
        "http://[::1]/cb",
        "http://192.168.0.10/cb",
        "http://localhost/cb",
        "http://192.0.0.8/cb",
        "http://[2002:7f00:1::1]/cb",
        "http://[2002:a00:1::1]:8080/cb",
        "http://[::ffff:7f00:1]/cb",
        "http://[64:ff9b::a9fe:a9fe]/latest",
        "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/cb",
    ):
        response = await subscribe(client, callback)
        assert response.status_code == 422, callback
        assert "callbacks must be publicly reachable" in response.json()["detail"]


async def test_the_status_is_shown_to_whoever_proves_the_secret_or_staff(client, worker, subscriber, staff, sign_up):
    await subscribed(client, worker, subscriber.url())
    params = {"callback": subscriber.url(), "topic": ATOM}
    assert (await client.get("/api/v1/websub/subscriptions", params=params)).status_code == 403
    wrong = {"X-Hub-Signature": proof_for("not the secret", subscriber.url())}
    assert (await client.get("/api/v1/websub/subscriptions", params=params, headers=wrong)).status_code == 403
    someone = await sign_up("Someone")
    assert (await client.get("/api/v1/websub/subscriptions", params=params, headers=someone["headers"])).status_code == 403
    assert (await client.get("/api/v1/websub/subscriptions", params=params, headers=staff["headers"])).json()["state"] == "active"
    assert (await status(client, subscriber.url()))["state"] == "active"
    unknown = await client.get("/api/v1/websub/subscriptions", params=params | {"callback": subscriber.url("/other")})
    assert unknown.status_code == 404


async def test_a_filtered_topic_is_delivered_only_what_it_selects(client, app, council, clock, worker, subscriber):
    africa = f"{BASE}/feeds/norms.atom?region=africa"
    oceania = f"{BASE}/feeds/norms.json?network=no-such"
    await subscribed(client, worker, subscriber.url("/africa"), africa)
    assert (await subscribe(client, subscriber.url("/x"), oceania)).status_code == 422
    await adopt(client, council, clock)
    await worker.run_once()
    [received] = subscriber.deliveries
    assert received.path == "/africa"
    assert f'<{africa}>; rel="self"' in received.headers["link"]


async def test_the_rest_listing_is_a_topic_too(client, app, council, clock, worker, subscriber):
    listing = f"{BASE}/api/v1/clearinghouse/entries?limit=10"
    await subscribed(client, worker, subscriber.url(), listing)
    await adopt(client, council, clock)
    await worker.run_once()
    [received] = subscriber.deliveries
    assert received.headers["content-type"] == "application/json"
    [item] = json.loads(received.body)["items"]
    assert item["text"] == TEXT and item["signature"]["kid"]


async def test_a_subscriber_ends_on_the_newest_feed_when_an_older_delivery_is_retried(client, app, council, clock, worker, subscriber):
    await subscribed(client, worker, subscriber.url())
    subscriber.replies = [500]  # the first delivery fails and waits to be tried again
    await adopt(client, council, clock)
    await worker.run_once()
    assert [d.status for d in subscriber.deliveries] == [500]

    # Version 2 is adopted while version 1's delivery waits: its delivery carries the feed with both.
    path = f"/api/v1/norms/{council['norm']['id']}/versions"
    assert (await client.post(path, json={"label": "Two"}, headers=council["convener"]["headers"])).status_code == 201
    clock.advance(hours=3)
    await adopt(client, council, clock, version=2)
    assert await worker.publish_pending() == 1
    clock.advance(hours=1)  # the first delivery is due again too
    await worker.deliver_due()
    await worker.deliver_due()
    clock.advance(hours=1)
    await worker.deliver_due()

    # One more delivery arrived, the newest: the subscriber's last feed holds both versions.
    assert [d.status for d in subscriber.deliveries] == [500, 204]
    newest = feedparser.parse(subscriber.deliveries[-1].body)
    assert [entry.id.rsplit(":", 1)[1] for entry in newest.entries] == ["v2", "v1"]
    first, second = await deliveries(app)
    assert (first.status, second.status) == (DeliveryStatus.superseded, DeliveryStatus.delivered)
    shown = {d["status"]: d["entries"] for d in (await status(client, subscriber.url()))["deliveries"]}
    # The superseded delivery announced v1; the one delivered announces v2 (and v1, now superseded by it).
    assert shown["superseded"] == [newest.entries[1].id] and newest.entries[0].id in shown["delivered"]


async def test_no_delivery_is_sent_while_an_older_one_of_its_subscription_is_in_flight(client, app, council, clock, worker, subscriber):
    from services.clearinghouse import delivery as outbox

    await subscribed(client, worker, subscriber.url())
    await adopt(client, council, clock)
    await worker.publish_pending()
    # Another worker holds version 1's delivery (its request still out) for a day.
    [older] = await outbox.claim_due(app.state.sessionmaker, clock, worker="elsewhere", lease=timedelta(days=1))
    path = f"/api/v1/norms/{council['norm']['id']}/versions"
    assert (await client.post(path, json={"label": "Two"}, headers=council["convener"]["headers"])).status_code == 201
    clock.advance(hours=3)
    await adopt(client, council, clock, version=2)
    await worker.publish_pending()
    assert await worker.deliver_due() == 0 and subscriber.deliveries == []
    # The other worker died: once its claim runs out, only the newest goes, holding both versions.
    clock.advance(days=1)
    assert await worker.deliver_due() == 1
    [received] = subscriber.deliveries
    assert [entry.id.rsplit(":", 1)[1] for entry in feedparser.parse(received.body).entries] == ["v2", "v1"]
    assert [d.status for d in await deliveries(app)] == [DeliveryStatus.superseded, DeliveryStatus.delivered]
    assert older.delivery_id == (await deliveries(app))[0].id


async def test_a_saved_search_feed_is_delivered_only_when_a_matching_norm_is_adopted(client, app, council, clock, worker):
    matching, other = Subscriber(), Subscriber()
    await matching.start()
    await other.start()
    try:
        await subscribed(client, worker, matching.url("/hooks/a"), f"{ATOM}?q=ranking+criteria")
        await subscribed(client, worker, other.url("/hooks/b"), f"{ATOM}?q=zebra")
        await adopt(client, council, clock)
        await worker.run_once()  # publishes, then delivers
        [received] = matching.deliveries
        assert received.headers["link"] == f'<{BASE}/websub>; rel="hub", <{ATOM}?q=ranking+criteria>; rel="self"'
        [entry] = feedparser.parse(received.body).entries
        assert entry.id == f"urn:cogov:norm:{council['slug']}:{council['norm']['slug']}:v1"
        assert other.deliveries == []
    finally:
        await matching.stop()
        await other.stop()
