"""Webhooks both ways, against the running platform.

Inbound: a simulated help desk posts signed tickets to an inbound endpoint (signed,
replayed, badly signed, incomplete); exactly one idea is made. Outbound: a receiver
built on the `standardwebhooks` library verifies Quorum's deliveries, through a secret
rollover; a quorum-v1 subscription keeps its scheme; no secret is stored in plain text.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc
import httpx
import pytest
from pymongo import AsyncMongoClient
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from quorum.domain.v1 import domain_pb2
from quorum.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from quorum.notifications.v1 import notifications_pb2
from quorum_devtools import platform
from quorum_devtools.sinks import ReceivedWebhook, WebhookSink
from quorum_gateway.inbound_mapping import sign
from quorum_notifications import signatures
from support.newcomer import submission
from support.waiting import until

pytestmark = pytest.mark.e2e

G = gateway_pb2
N = notifications_pb2
HELP_DESK_SECRET = "help-desk-shared-secret-0123"
TICKET = {
    "ticket": {
        "id": 1001,
        "subject": "Export gate reports to CSV",
        "description": "Our portfolio board reviews gate decisions in spreadsheets.",
        "tags": ["export"],
    },
    "requester": {"organization": "bakery", "id": "ann"},
}


def value(**source: str) -> G.InboundValue:
    return G.InboundValue(**source)


def ticket_endpoint(key_id: str) -> G.InboundEndpoint:
    """A help desk's ticket, mapped to SubmitIdea as data."""
    return G.InboundEndpoint(
        key_id=key_id,
        display_name="Help desk",
        action=G.INBOUND_ACTION_SUBMIT_IDEA,
        fields=[
            G.InboundField(field="title", value=value(pointer="/ticket/subject")),
            G.InboundField(field="problem", value=value(pointer="/ticket/description")),
            G.InboundField(field="product_area", value=value(constant="reporting")),
            G.InboundField(field="tags", value=value(pointer="/ticket/tags"), optional=True),
            G.InboundField(
                field="source_channel", value=value(constant="SOURCE_CHANNEL_HELP_DESK")
            ),
            G.InboundField(
                field="submitted_by.organization_id", value=value(pointer="/requester/organization")
            ),
            G.InboundField(field="submitted_by.member_id", value=value(pointer="/requester/id")),
            G.InboundField(field="importance", value=value(constant="IMPORTANCE_IMPORTANT")),
        ],
        delivery_id=value(header="X-Delivery-Id"),
        secret=HELP_DESK_SECRET,
    )


def signed(
    body: bytes, delivery_id: str, secret: str = HELP_DESK_SECRET, at: int = 0
) -> dict[str, str]:
    stamp = at or int(time.time())
    return {
        "content-type": "application/json",
        "x-delivery-id": delivery_id,
        "quorum-timestamp": str(stamp),
        "quorum-signature": sign(secret, stamp, body),
    }


def violations(answer: httpx.Response) -> list[str]:
    status = answer.json()
    return [
        v["field"]
        for detail in status.get("details", [])
        for v in detail.get("fieldViolations", [])
    ]


async def setup_directory(gateway: grpc.aio.Channel) -> None:
    directory = gateway_pb2_grpc.DirectoryServiceStub(gateway)
    await directory.UpsertOrganization(
        G.UpsertOrganizationRequest(
            organization=domain_pb2.Organization(
                organization_id="bakery",
                name="Bakery Co",
                segment="retail",
                arr=50_000_000,
                relationship=domain_pb2.RELATIONSHIP_ACTIVE,
            )
        )
    )


@pytest.mark.platform_env(GATEWAY_KEY_CACHE_SECONDS="0")
async def test_a_help_desk_webhook_makes_exactly_one_idea(
    running: platform.Platform, gateway: grpc.aio.Channel
) -> None:
    await setup_directory(gateway)
    access = gateway_pb2_grpc.AccessServiceStub(gateway)
    integration = await access.CreateApiKey(
        G.CreateApiKeyRequest(
            principal_id="zendesk",
            display_name="Zendesk",
            role=G.ROLE_INTEGRATION,
            organization_ids=["bakery"],
        )
    )
    inbound = gateway_pb2_grpc.InboundServiceStub(gateway)
    created = await inbound.CreateInboundEndpoint(
        G.CreateInboundEndpointRequest(endpoint=ticket_endpoint(integration.key.key_id))
    )
    endpoint = created.endpoint
    assert endpoint.secret == HELP_DESK_SECRET
    listed = await inbound.ListInboundEndpoints(G.ListInboundEndpointsRequest())
    assert [e.endpoint_id for e in listed.endpoints] == [endpoint.endpoint_id]
    assert listed.endpoints[0].secret == ""

    body = json.dumps(TICKET).encode()
    url = f"/inbound/{endpoint.endpoint_id}"
    headers = signed(body, "zd-1001")
    async with httpx.AsyncClient(base_url=running.http_url) as desk:
        first = await desk.post(url, content=body, headers=headers)
        assert first.status_code == 200, first.text
        assert first.json()["duplicate"] is False
        idea_id = first.json()["ideaId"]

        # The same request again (the help desk retrying): the same idea, nothing new.
        replayed = await desk.post(url, content=body, headers=headers)
        assert replayed.status_code == 200, replayed.text
        assert replayed.json()["duplicate"] is True
        assert replayed.json()["ideaId"] == idea_id

        # The same signed request passed off as another delivery: refused.
        reused = await desk.post(url, content=body, headers={**headers, "x-delivery-id": "zd-9"})
        assert reused.status_code == 409, reused.text
        assert violations(reused) == ["Quorum-Signature"]

        # A bad signature, a stale one, none at all: 401 naming the header.
        forged = await desk.post(
            url, content=body, headers=signed(body, "zd-1002", secret="not-the-shared-secret")
        )
        assert forged.status_code == 401, forged.text
        assert violations(forged) == ["Quorum-Signature"]
        stale = await desk.post(
            url, content=body, headers=signed(body, "zd-1003", at=int(time.time()) - 3600)
        )
        assert stale.status_code == 401, stale.text
        assert violations(stale) == ["Quorum-Timestamp"]
        unsigned = await desk.post(
            url, content=body, headers={"content-type": "application/json", "x-delivery-id": "zd-4"}
        )
        assert unsigned.status_code == 401, unsigned.text

        # A ticket without the fields the mapping needs: 400 naming the payload's paths.
        incomplete = json.dumps(
            {"ticket": {"id": 1005, "tags": "export"}, "requester": {}}
        ).encode()
        missing = await desk.post(url, content=incomplete, headers=signed(incomplete, "zd-1005"))
        assert missing.status_code == 400, missing.text
        assert violations(missing) == [
            "/ticket/subject",
            "/ticket/description",
            "/requester/organization",
            "/requester/id",
        ]
        nodelivery = await desk.post(
            url,
            content=body,
            headers={k: v for k, v in signed(body, "x").items() if k != "x-delivery-id"},
        )
        assert nodelivery.status_code == 400, nodelivery.text
        assert violations(nodelivery) == ["header X-Delivery-Id"]
        # The backend's own verdict comes back named by the payload's path too.
        short = json.dumps({**TICKET, "ticket": {**TICKET["ticket"], "subject": ""}}).encode()  # type: ignore[dict-item]
        refused = await desk.post(url, content=short, headers=signed(short, "zd-1006"))
        assert refused.status_code == 400, refused.text
        assert "/ticket/subject" in violations(refused)

        # Durable, not remembered by the gateway: with the gateway's record of the delivery
        # gone, the same delivery still makes no second idea (SubmitIdea's request_id).
        env = running.env()
        mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(env["MONGODB_URI"])
        try:
            db = mongo[env["GATEWAY_MONGODB_DATABASE"]]
            stored = await db["inbound_endpoints"].find_one({"_id": endpoint.endpoint_id})
            assert stored is not None
            assert stored["secret"].startswith("fernet:")
            assert HELP_DESK_SECRET not in json.dumps(stored, default=str)
            deleted = await db["inbound_deliveries"].delete_many({})
            assert deleted.deleted_count == 1
        finally:
            await mongo.close()
        again = await desk.post(url, content=body, headers=signed(body, "zd-1001"))
        assert again.status_code == 200, again.text
        assert again.json()["ideaId"] == idea_id

        # A CRM that cannot sign: its notes endorse the idea; the delivery id is the note's.
        notes = await inbound.CreateInboundEndpoint(
            G.CreateInboundEndpointRequest(
                endpoint=G.InboundEndpoint(
                    key_id=integration.key.key_id,
                    display_name="CRM notes",
                    action=G.INBOUND_ACTION_ENDORSE_IDEA,
                    fields=[
                        G.InboundField(field="idea_id", value=value(pointer="/note/idea")),
                        G.InboundField(
                            field="member.organization_id", value=value(pointer="/contact/account")
                        ),
                        G.InboundField(
                            field="member.member_id", value=value(pointer="/contact/id")
                        ),
                        G.InboundField(
                            field="importance", value=value(constant="IMPORTANCE_CRITICAL")
                        ),
                    ],
                    delivery_id=value(pointer="/note/id"),
                    accept_unsigned=True,
                )
            )
        )
        note = {"note": {"id": 77, "idea": idea_id}, "contact": {"account": "bakery", "id": "bob"}}
        for duplicate in (False, True):
            endorsed = await desk.post(f"/inbound/{notes.endpoint.endpoint_id}", json=note)
            assert endorsed.status_code == 200, endorsed.text
            assert endorsed.json()["duplicate"] is duplicate
            assert endorsed.json()["deliveryId"] == "77"
            assert endorsed.json()["response"]["idea"]["endorsementCount"] == 2

        ideas = gateway_pb2_grpc.IdeasServiceStub(gateway)
        listing = await ideas.ListIdeas(G.ListIdeasRequest(page_size=100))
        assert [i.id for i in listing.ideas] == [idea_id]
        [idea] = listing.ideas
        assert idea.title == "Export gate reports to CSV"
        assert idea.source_channel == domain_pb2.SOURCE_CHANNEL_HELP_DESK

        # Revoking the integration key stops the endpoint; deleting it ends it. (Another
        # ticket: the same body signed in the same second would be the same request.)
        await access.RevokeApiKey(G.RevokeApiKeyRequest(key_id=integration.key.key_id))
        other = json.dumps({**TICKET, "ticket": {**TICKET["ticket"], "id": 2000}}).encode()  # type: ignore[dict-item]
        revoked = await desk.post(url, content=other, headers=signed(other, "zd-2000"))
        assert revoked.status_code == 403, revoked.text
        await inbound.DeleteInboundEndpoint(
            G.DeleteInboundEndpointRequest(endpoint_id=endpoint.endpoint_id)
        )
        gone = await desk.post(url, content=other, headers=signed(other, "zd-2001"))
        assert gone.status_code == 404, gone.text


async def test_an_inbound_endpoint_is_configured_with_its_fields_checked(
    gateway: grpc.aio.Channel,
) -> None:
    access = gateway_pb2_grpc.AccessServiceStub(gateway)
    pm = await access.CreateApiKey(
        G.CreateApiKeyRequest(principal_id="pat", display_name="Pat", role=G.ROLE_PRODUCT_MANAGER)
    )
    wrong = ticket_endpoint(pm.key.key_id)
    wrong.fields.append(G.InboundField(field="expected_version", value=value(pointer="/v")))
    wrong.fields.append(G.InboundField(field="title", value=value(pointer="no-slash")))
    inbound = gateway_pb2_grpc.InboundServiceStub(gateway)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await inbound.CreateInboundEndpoint(G.CreateInboundEndpointRequest(endpoint=wrong))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    said = refused.value.details() or ""
    for field in ("endpoint.fields[8].field", "endpoint.fields[9].field", "endpoint.key_id"):
        assert field in said, said


class Receiver:
    """A Standard Webhooks receiver: verifies with the library, 401 when it does not verify."""

    def __init__(self) -> None:
        self.secrets: list[str] = []
        self.sink = WebhookSink(respond=self._respond)

    async def _respond(self, received: ReceivedWebhook) -> int:
        if received.path != "/standard":
            return 204
        for secret in self.secrets:
            try:
                Webhook(secret).verify(received.body, received.headers)
            except WebhookVerificationError:
                continue
            return 204
        return 401


def verifies(secret: str, received: ReceivedWebhook) -> bool:
    try:
        Webhook(secret).verify(received.body, received.headers)
    except WebhookVerificationError:
        return False
    return True


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    made = Receiver()
    await made.sink.start()
    yield made
    await made.sink.stop()


@pytest.mark.platform_env(NOTIFICATIONS_WEBHOOK_ALLOW_PRIVATE_NETWORKS="true")
async def test_standard_webhooks_receivers_verify_deliveries_through_a_secret_rollover(
    running: platform.Platform, gateway: grpc.aio.Channel, receiver: Receiver
) -> None:
    await setup_directory(gateway)
    notifications = gateway_pb2_grpc.NotificationsServiceStub(gateway)
    ann = domain_pb2.Subscriber(
        member=domain_pb2.MemberRef(organization_id="bakery", member_id="ann")
    )
    standard = await notifications.CreateSubscription(
        G.CreateSubscriptionRequest(
            subscription=N.Subscription(
                subscriber=ann,
                webhook=N.WebhookChannel(
                    url=receiver.sink.url("/standard"), scheme=N.WEBHOOK_SCHEME_STANDARD
                ),
            )
        )
    )
    first_secret = standard.subscription.webhook.secret
    assert first_secret.startswith("whsec_")
    receiver.secrets = [first_secret]
    legacy_secret = "whsec_an_existing_v1_receiver"
    await notifications.CreateSubscription(
        G.CreateSubscriptionRequest(
            subscription=N.Subscription(
                subscriber=ann,
                webhook=N.WebhookChannel(url=receiver.sink.url("/v1"), secret=legacy_secret),
            )
        )
    )
    subscription_id = standard.subscription.subscription_id
    ideas = gateway_pb2_grpc.IdeasServiceStub(gateway)
    gates = gateway_pb2_grpc.GatesServiceStub(gateway)

    async def decline_one(title: str) -> ReceivedWebhook:
        """A declined idea of Ann's; the Standard Webhooks delivery that tells her."""
        submitted = await ideas.SubmitIdea(submission(title, by=("bakery", "ann")))
        await gates.DeclineIdea(
            G.DeclineIdeaRequest(idea_id=submitted.idea.id, reason="Not for this year, sorry.")
        )

        def delivered() -> list[ReceivedWebhook]:
            return [
                r
                for r in receiver.sink.on("/standard")
                if r.json["idea"]["id"] == submitted.idea.id
            ]

        async def arrived() -> bool:
            return bool(delivered())

        await until(arrived, f"the delivery about {title!r}")
        return delivered()[0]

    before = await decline_one("Bulk edit of tags")
    assert verifies(first_secret, before)
    assert set(before.headers) >= {"webhook-id", "webhook-timestamp", "webhook-signature"}

    # The existing v1 receiver's scheme is unchanged.
    async def v1_arrived() -> bool:
        return bool(receiver.sink.on("/v1"))

    await until(v1_arrived, "the quorum-v1 delivery")
    legacy = receiver.sink.on("/v1")[0]
    assert "webhook-signature" not in legacy.headers
    assert signatures.verify(
        legacy_secret,
        legacy.headers["quorum-timestamp"],
        legacy.body,
        legacy.headers["quorum-signature"],
        time.time(),
    )

    rotated = await notifications.RotateWebhookSecret(
        G.RotateWebhookSecretRequest(subscription_id=subscription_id)
    )
    second_secret = rotated.subscription.webhook.secret
    assert second_secret not in ("", first_secret)
    assert rotated.subscription.webhook.HasField("previous_secret_expires_at")
    during = await decline_one("Dark mode for reports")
    assert verifies(first_secret, during)
    assert verifies(second_secret, during)
    receiver.secrets = [second_secret]

    ended = await notifications.EndWebhookSecretRollover(
        G.EndWebhookSecretRolloverRequest(subscription_id=subscription_id)
    )
    assert not ended.subscription.webhook.HasField("previous_secret_expires_at")
    after = await decline_one("Keyboard shortcuts")
    assert verifies(second_secret, after)
    assert not verifies(first_secret, after)

    async def all_delivered() -> bool:
        listed = await notifications.ListDeliveries(
            G.ListDeliveriesRequest(subscription_id=subscription_id)
        )
        return {d.status for d in listed.deliveries} == {N.DELIVERY_STATUS_DELIVERED}

    # The receiver holds every delivery already, but each is marked delivered only once
    # its answer is back at the dispatcher: on a busy machine that comes a moment later.
    await until(all_delivered, "every delivery of the subscription marked delivered")

    env = running.env()
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(env["MONGODB_URI"])
    try:
        stored = (
            await mongo[env["NOTIFICATIONS_MONGODB_DATABASE"]]["subscriptions"].find().to_list()
        )
    finally:
        await mongo.close()
    text = json.dumps(stored, default=str)
    assert len(stored) == 2
    for secret in (first_secret, second_secret, legacy_secret):
        assert secret not in text
        assert secret.removeprefix("whsec_") not in text
    assert all(doc["secret"].startswith("fernet:") for doc in stored)
