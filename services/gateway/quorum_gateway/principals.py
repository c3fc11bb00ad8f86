"""Who may do what: API keys, principals, roles and the rules for acting for customers.

Pure: the interceptor (`auth.py`) and the servicers call these with what they know.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from enum import IntEnum

from quorum.domain.v1 import domain_pb2
from quorum.notifications.v1 import notifications_pb2
from quorum_common.errors import PermissionDenied, Unauthenticated

KEY_PREFIX = "qk"


class Role(IntEnum):
    """Mirrors quorum.gateway.v1.Role."""

    VENDOR_ADMIN = 1
    PRODUCT_MANAGER = 2
    CUSTOMER = 3
    INTEGRATION = 4


VENDOR = frozenset({Role.VENDOR_ADMIN, Role.PRODUCT_MANAGER})
ADMIN = frozenset({Role.VENDOR_ADMIN})
EVERYONE = frozenset(Role)
CUSTOMERS = frozenset({Role.CUSTOMER, Role.INTEGRATION})

# Every public RPC and the roles allowed to call it. An RPC missing here is refused.
PERMISSIONS: dict[str, frozenset[Role]] = {
    "IdeasService/SubmitIdea": EVERYONE,
    "IdeasService/GetIdea": EVERYONE,
    "IdeasService/ListIdeas": EVERYONE,
    "IdeasService/EndorseIdea": EVERYONE,
    "IdeasService/WithdrawEndorsement": EVERYONE,
    "IdeasService/FindSimilarIdeas": EVERYONE,
    "IdeasService/ListEndorsements": EVERYONE,
    "IdeasService/MergeIdeas": VENDOR,
    "GatesService/GetGateReport": EVERYONE,
    "GatesService/AdvanceStage": VENDOR,
    "GatesService/DeclineIdea": VENDOR,
    "GatesService/CastCouncilVote": CUSTOMERS | ADMIN,
    "GatesService/OverrideStage": ADMIN,
    "GatesService/CoSignIdea": VENDOR | {Role.CUSTOMER},
    "InsightsService/GetOrganizationScorecard": EVERYONE,
    "InsightsService/GetTenantScorecard": VENDOR,
    "InsightsService/WhatIf": VENDOR,
    "PeersService/ListPeers": CUSTOMERS,
    "PeersService/RequestIntroduction": frozenset({Role.CUSTOMER}),
    "PeersService/AnswerIntroduction": CUSTOMERS,
    "PeersService/ListIntroductions": CUSTOMERS,
    "DirectoryService/UpsertOrganization": ADMIN,
    "DirectoryService/GetOrganization": VENDOR,
    "DirectoryService/ListOrganizations": VENDOR,
    "DirectoryService/UpsertCouncil": ADMIN,
    "DirectoryService/ListCouncils": EVERYONE,
    "PolicyService/GetPipeline": EVERYONE,
    "PolicyService/UpdateGatePolicy": ADMIN,
    "AccessService/CreateApiKey": ADMIN,
    "AccessService/ListApiKeys": ADMIN,
    "AccessService/RevokeApiKey": ADMIN,
    "AccessService/WhoAmI": EVERYONE,
    "EventsService/WatchEvents": VENDOR,
    "NotificationsService/CreateSubscription": EVERYONE,
    "NotificationsService/ListSubscriptions": EVERYONE,
    "NotificationsService/DeleteSubscription": EVERYONE,
    "NotificationsService/ListDeliveries": EVERYONE,
    "NotificationsService/RotateWebhookSecret": EVERYONE,
    "NotificationsService/EndWebhookSecretRollover": EVERYONE,
    "InboundService/CreateInboundEndpoint": ADMIN,
    "InboundService/ListInboundEndpoints": ADMIN,
    "InboundService/DeleteInboundEndpoint": ADMIN,
}


def rpc_name(method: str) -> str:
    """'/quorum.gateway.v1.IdeasService/GetIdea' → 'IdeasService/GetIdea'."""
    service, _, name = method.lstrip("/").rpartition("/")
    return f"{service.rsplit('.', 1)[-1]}/{name}"


@dataclass(frozen=True)
class Principal:
    tenant_id: str
    key_id: str
    principal_id: str
    display_name: str
    role: Role
    organization_id: str = ""
    member_id: str = ""
    organization_ids: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_vendor(self) -> bool:
        return self.role in VENDOR

    def own_organizations(self) -> frozenset[str]:
        if self.role is Role.CUSTOMER:
            return frozenset({self.organization_id})
        if self.role is Role.INTEGRATION:
            return self.organization_ids
        return frozenset()

    def actor(self) -> domain_pb2.Actor:
        return domain_pb2.Actor(
            principal_id=self.principal_id, role=self.role.name, display_name=self.display_name
        )


def authorize(principal: Principal, method: str) -> None:
    allowed = PERMISSIONS.get(rpc_name(method))
    if allowed is None or principal.role not in allowed:
        raise PermissionDenied(f"a {principal.role.name} key may not call {rpc_name(method)}")


def acting_member(principal: Principal, member: domain_pb2.MemberRef) -> domain_pb2.MemberRef:
    """The member a call acts for: a customer is itself; an integration its orgs' members."""
    if principal.role is Role.CUSTOMER:
        if (member.organization_id or member.member_id) and (
            member.organization_id != principal.organization_id
            or member.member_id != principal.member_id
        ):
            raise PermissionDenied("a CUSTOMER key acts only for its own member")
        return domain_pb2.MemberRef(
            organization_id=principal.organization_id,
            member_id=principal.member_id,
            job_function=member.job_function,
        )
    if (
        principal.role is Role.INTEGRATION
        and member.organization_id not in principal.organization_ids
    ):
        raise PermissionDenied(
            f"this INTEGRATION key may not act for organization {member.organization_id!r}"
        )
    return member


def acting_organization(principal: Principal, organization_id: str) -> str:
    if principal.role is Role.CUSTOMER:
        if organization_id and organization_id != principal.organization_id:
            raise PermissionDenied("a CUSTOMER key votes only for its own organization")
        return principal.organization_id
    if principal.role is Role.INTEGRATION and organization_id not in principal.organization_ids:
        raise PermissionDenied(
            f"this INTEGRATION key may not act for organization {organization_id!r}"
        )
    return organization_id


def own_subscriber(
    principal: Principal, subscriber: domain_pb2.Subscriber
) -> domain_pb2.Subscriber:
    """Customers and integrations subscribe only their own members or organizations."""
    if principal.is_vendor:
        return subscriber
    who = subscriber.WhichOneof("who")
    if principal.role is Role.CUSTOMER and who is None:
        return domain_pb2.Subscriber(
            member=domain_pb2.MemberRef(
                organization_id=principal.organization_id, member_id=principal.member_id
            )
        )
    if who == "member":
        return domain_pb2.Subscriber(member=acting_member(principal, subscriber.member))
    if who == "organization_id":
        acting_organization(principal, subscriber.organization_id)
        return subscriber
    raise PermissionDenied("only vendor keys manage team subscriptions")


def subscriber_scope(principal: Principal) -> notifications_pb2.SubscriberScope | None:
    """Whose subscriptions and deliveries a key may see and end; None: the whole tenant.

    A customer: its own member and its organization. An integration: its organizations
    and every member of them (it acts for those members).
    """
    if principal.is_vendor:
        return None
    if principal.role is Role.CUSTOMER:
        return notifications_pb2.SubscriberScope(
            subscribers=[
                domain_pb2.Subscriber(
                    member=domain_pb2.MemberRef(
                        organization_id=principal.organization_id,
                        member_id=principal.member_id,
                    )
                ),
                domain_pb2.Subscriber(organization_id=principal.organization_id),
            ]
        )
    return notifications_pb2.SubscriberScope(organization_ids=sorted(principal.organization_ids))


# --- keys ------------------------------------------------------------------------


def new_secret(key_id: str) -> str:
    """`qk_<key id>_<random>`: the id finds the record, the random part proves it."""
    return f"{KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"


def hash_secret(secret: str) -> str:
    # The random part has 256 bits of entropy, so a fast hash is safe here; a slow
    # password hash would only add latency to every call.
    return hashlib.sha256(secret.encode()).hexdigest()


def key_id_of(secret: str) -> str:
    parts = secret.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or not parts[1] or not parts[2]:
        raise Unauthenticated("the API key is malformed")
    return parts[1]


def matches(secret: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), stored_hash)


def bearer(metadata: tuple[tuple[str, str | bytes], ...]) -> str:
    for key, value in metadata:
        if key == "authorization" and isinstance(value, str):
            scheme, _, token = value.partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
            raise Unauthenticated("authorization must be 'Bearer <api key>'")
    raise Unauthenticated("missing authorization metadata: 'Bearer <api key>'")
