"""The world the permission matrix runs in: a tenant with every role's key, a directory
with a hidden organization, and the shared state the matrix's requests refer to."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import message_factory
from google.protobuf.message import Message

from quorum.domain.v1 import domain_pb2
from quorum.gateway.v1 import gateway_pb2
from quorum.notifications.v1 import notifications_pb2
from quorum_devtools import platform
from support.auth import channel
from support.newcomer import member, submission

HIDDEN_ID, HIDDEN_NAME = "zz-hidden-org", "Hiddenco Zeta"
# organization id, name, segment, peer visible
DIRECTORY = [
    ("bakery", "Bakery Co", "retail", True),
    ("shop", "Shop GmbH", "retail", True),
    ("clinic", "Clinic Ltd", "health", True),
    ("megacorp", "MegaCorp", "manufacturing", False),
    (HIDDEN_ID, HIDDEN_NAME, "finance", False),
]
ROLES = ["VENDOR_ADMIN", "PRODUCT_MANAGER", "CUSTOMER", "INTEGRATION"]
# The member each role acts for when it acts for a customer.
ACTS_FOR = {
    "VENDOR_ADMIN": ("bakery", "vendor-entered"),
    "PRODUCT_MANAGER": ("bakery", "vendor-entered"),
    "CUSTOMER": ("bakery", "ann"),
    "INTEGRATION": ("shop", "bo"),
}
# Allowed calls that answer other than OK by the product's rules, with these requests.
REFUSED_BY_RULES = {"GatesService/AdvanceStage": grpc.StatusCode.FAILED_PRECONDITION}
SERVICES = list(gateway_pb2.DESCRIPTOR.services_by_name.values())
RPCS = {f"{s.name}/{m.name}": m for s in SERVICES for m in s.methods}


@dataclass
class Caller:
    role: str
    channel: grpc.aio.Channel
    organizations: frozenset[str] = frozenset()

    async def call(self, rpc: str, request: Message) -> Any:
        method = RPCS[rpc]
        output = message_factory.GetMessageClass(method.output_type)
        path = f"/{method.containing_service.full_name}/{method.name}"
        if method.server_streaming:
            stream = self.channel.unary_stream(
                path,
                request_serializer=type(request).SerializeToString,
                response_deserializer=output.FromString,
            )(request, timeout=30)
            try:
                async for first in stream:
                    return first
            finally:
                stream.cancel()
            return output()
        unary = self.channel.unary_unary(
            path,
            request_serializer=type(request).SerializeToString,
            response_deserializer=output.FromString,
        )
        return await unary(request, timeout=30)


@dataclass
class World:
    """A tenant with every role's key and the shared state the requests refer to."""

    admin: Caller
    callers: dict[str, Caller]
    # A customer of clinic's, who asks bakery for an introduction.
    clinic: Caller
    shared_idea: str = ""
    counter: itertools.count[int] = field(default_factory=itertools.count)

    def unique(self, prefix: str) -> str:
        return f"{prefix}-{next(self.counter)}"

    async def idea(self, title: str = "Fresh idea") -> str:
        """A new idea of the hidden organization's (entered by the admin for it)."""
        answer = await self.admin.call(
            "IdeasService/SubmitIdea", submission(self.unique(title), (HIDDEN_ID, "hana"))
        )
        return str(answer.idea.id)

    async def endorse(self, idea_id: str, who: tuple[str, str]) -> None:
        await self.admin.call(
            "IdeasService/EndorseIdea",
            gateway_pb2.EndorseIdeaRequest(
                idea_id=idea_id, member=member(who), importance=domain_pb2.IMPORTANCE_CRITICAL
            ),
        )


async def key(admin: Caller, role: str, **fields: Any) -> str:
    answer = await admin.call(
        "AccessService/CreateApiKey",
        gateway_pb2.CreateApiKeyRequest(
            principal_id=f"{role.lower()}-{fields.get('organization_id', 'key')}",
            display_name=role,
            role=gateway_pb2.Role.Value(f"ROLE_{role}"),
            **fields,
        ),
    )
    return str(answer.secret)


@contextlib.asynccontextmanager
async def world_for(running: platform.Platform, admin_key: str) -> AsyncIterator[World]:
    """The world on a running platform, its channels closed afterwards."""
    address = running.address("gateway")
    opened = [channel(address, admin_key)]
    admin = Caller("VENDOR_ADMIN", opened[0])
    for oid, name, segment, visible in DIRECTORY:
        await admin.call(
            "DirectoryService/UpsertOrganization",
            gateway_pb2.UpsertOrganizationRequest(
                organization=domain_pb2.Organization(
                    organization_id=oid,
                    name=name,
                    segment=segment,
                    arr=50_000_000,
                    relationship=domain_pb2.RELATIONSHIP_ACTIVE,
                    peer_visible=visible,
                    contact=f"cab@{oid}.example",
                )
            ),
        )
    secrets = {
        "PRODUCT_MANAGER": await key(admin, "PRODUCT_MANAGER"),
        "CUSTOMER": await key(admin, "CUSTOMER", organization_id="bakery", member_id="ann"),
        "INTEGRATION": await key(admin, "INTEGRATION", organization_ids=["shop", "clinic"]),
    }
    clinic_secret = await key(admin, "CUSTOMER", organization_id="clinic", member_id="cy")
    opened.append(channel(address, clinic_secret))
    clinic = Caller("CUSTOMER", opened[-1], frozenset({"clinic"}))
    callers = {"VENDOR_ADMIN": admin}
    for role, secret in secrets.items():
        opened.append(channel(address, secret))
        callers[role] = Caller(role, opened[-1])
    callers["CUSTOMER"].organizations = frozenset({"bakery"})
    callers["INTEGRATION"].organizations = frozenset({"shop", "clinic"})
    world = World(admin, callers, clinic)
    await admin.call(
        "DirectoryService/UpsertCouncil",
        gateway_pb2.UpsertCouncilRequest(
            council=domain_pb2.Council(
                council_id="cab",
                name="Customer Advisory Board",
                member_organization_ids=["bakery", "shop", "clinic", "megacorp", HIDDEN_ID],
            )
        ),
    )
    # The hidden organization is everywhere a customer could look.
    world.shared_idea = await world.idea("Export gate reports")
    for who in [("megacorp", "max"), ("bakery", "ann"), ("shop", "bo"), ("clinic", "cy")]:
        await world.endorse(world.shared_idea, who)
    await admin.call(
        "GatesService/CastCouncilVote",
        gateway_pb2.CastCouncilVoteRequest(
            idea_id=world.shared_idea, council_id="cab", organization_id=HIDDEN_ID, approve=True
        ),
    )
    await admin.call(
        "NotificationsService/CreateSubscription", subscription(organization_id=HIDDEN_ID)
    )
    try:
        yield world
    finally:
        for open_channel in opened:
            await open_channel.close()


def subscription(**subscriber: Any) -> gateway_pb2.CreateSubscriptionRequest:
    return gateway_pb2.CreateSubscriptionRequest(
        subscription=notifications_pb2.Subscription(
            subscriber=domain_pb2.Subscriber(**subscriber),
            webhook=notifications_pb2.WebhookChannel(url="https://hooks.example.com/quorum"),
        )
    )
