"""Idea events built as the ideas service publishes them."""

from __future__ import annotations

import uuid
from datetime import datetime

from quorum.domain.v1 import domain_pb2
from quorum.events.v1 import events_pb2
from quorum_common.events import new_event, now, timestamp


def endorsement(
    organization_id: str,
    importance: int = domain_pb2.IMPORTANCE_IMPORTANT,
    commitments: tuple[int, ...] = (),
    at: datetime | None = None,
) -> domain_pb2.OrganizationEndorsement:
    return domain_pb2.OrganizationEndorsement(
        organization_id=organization_id,
        importance=importance,  # type: ignore[arg-type]
        commitments=list(commitments),  # type: ignore[arg-type]
        endorsed_at=timestamp(at or now()),
        member_count=1,
    )


def submitted(
    tenant_id: str,
    organization_id: str,
    importance: int = domain_pb2.IMPORTANCE_IMPORTANT,
    idea_id: str | None = None,
) -> events_pb2.Event:
    event = new_event(tenant_id=tenant_id, idea_id=idea_id or str(uuid.uuid4()), producer="ideas")
    payload = event.idea_submitted
    payload.title = "An idea"
    payload.problem = "A problem"
    payload.product_area = "core"
    payload.source_channel = domain_pb2.SOURCE_CHANNEL_PORTAL
    payload.submitted_by.CopyFrom(
        domain_pb2.MemberRef(organization_id=organization_id, member_id=f"{organization_id}-m1")
    )
    payload.endorsement.CopyFrom(endorsement(organization_id, importance))
    payload.idea_version = 1
    payload.created_at.CopyFrom(event.envelope.occurred_at)
    return event


def endorsed(
    tenant_id: str,
    idea_id: str,
    organization_id: str,
    version: int,
    importance: int = domain_pb2.IMPORTANCE_IMPORTANT,
    commitments: tuple[int, ...] = (),
) -> events_pb2.Event:
    event = new_event(tenant_id=tenant_id, idea_id=idea_id, producer="ideas")
    payload = event.idea_endorsed
    payload.member.CopyFrom(
        domain_pb2.MemberRef(organization_id=organization_id, member_id=f"{organization_id}-m1")
    )
    payload.importance = importance  # type: ignore[assignment]
    payload.organization_endorsement.CopyFrom(endorsement(organization_id, importance, commitments))
    payload.idea_version = version
    return event


def withdrawn(tenant_id: str, idea_id: str, organization_id: str, version: int) -> events_pb2.Event:
    event = new_event(tenant_id=tenant_id, idea_id=idea_id, producer="ideas")
    payload = event.endorsement_withdrawn
    payload.member.CopyFrom(
        domain_pb2.MemberRef(organization_id=organization_id, member_id=f"{organization_id}-m1")
    )
    payload.organization_id = organization_id
    payload.idea_version = version
    return event
