"""The newcomer scenario's tenant and directory, and the idea its customers submit.

One huge customer and five small ones in three industries: the validation, the
notifications and the gateway tests tell the same story with the same cast.
"""

from __future__ import annotations

from quorum.domain.v1 import domain_pb2
from quorum.gateway.v1 import gateway_pb2

TENANT = "acme-software"
PM = domain_pb2.Actor(principal_id="pm-1", role="PRODUCT_MANAGER", display_name="Pat")
ACTIVE, PROSPECT = domain_pb2.RELATIONSHIP_ACTIVE, domain_pb2.RELATIONSHIP_PROSPECT
# (id, name, segment, ARR in minor units, relationship)
ORGANIZATIONS = [
    ("megacorp", "MegaCorp", "manufacturing", 500_000_000, ACTIVE),
    ("bakery", "Bakery Co", "retail", 50_000_000, ACTIVE),
    ("clinic", "Clinic Ltd", "health", 40_000_000, ACTIVE),
    ("shop", "Shop GmbH", "retail", 45_000_000, ACTIVE),
    ("lab", "Lab Inc", "health", 42_000_000, PROSPECT),
    ("bank", "Bank AG", "finance", 48_000_000, ACTIVE),
]


def organizations() -> list[domain_pb2.Organization]:
    """The cast as the directory stores it."""
    return [
        domain_pb2.Organization(
            organization_id=org_id, name=name, segment=segment, arr=arr, relationship=relationship
        )
        for org_id, name, segment, arr, relationship in ORGANIZATIONS
    ]


def member(who: tuple[str, str]) -> domain_pb2.MemberRef:
    """(organization, member) as the contract names a member."""
    return domain_pb2.MemberRef(organization_id=who[0], member_id=who[1])


def submission(
    title: str = "Export gate reports to CSV", by: tuple[str, str] | None = None
) -> gateway_pb2.SubmitIdeaRequest:
    """A portal submission through the public gateway; `by` names the member (org, id)."""
    return gateway_pb2.SubmitIdeaRequest(
        title=title,
        problem="Our portfolio board reviews gate decisions in spreadsheets every week.",
        product_area="reporting",
        source_channel=domain_pb2.SOURCE_CHANNEL_PORTAL,
        importance=domain_pb2.IMPORTANCE_IMPORTANT,
        submitted_by=member(by) if by else None,
    )
