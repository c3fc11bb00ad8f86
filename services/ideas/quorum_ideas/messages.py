"""Translations between the domain model and the protobuf contracts."""

from __future__ import annotations

from quorum.domain.v1 import domain_pb2
from quorum.events.v1 import events_pb2
from quorum.ideas.v1 import ideas_pb2
from quorum_common.events import new_event, timestamp
from quorum_ideas.domain import Idea, Member, OrganizationEndorsement

PRODUCER = "ideas"


def member_message(member: Member) -> domain_pb2.MemberRef:
    return domain_pb2.MemberRef(
        organization_id=member.organization_id,
        member_id=member.member_id,
        job_function=member.job_function,  # type: ignore[arg-type]
    )


def member_from(message: domain_pb2.MemberRef) -> Member:
    return Member(
        organization_id=message.organization_id.strip(),
        member_id=message.member_id.strip(),
        job_function=message.job_function,
    )


def organization_endorsement_message(
    counted: OrganizationEndorsement,
) -> domain_pb2.OrganizationEndorsement:
    return domain_pb2.OrganizationEndorsement(
        organization_id=counted.organization_id,
        importance=int(counted.importance),  # type: ignore[arg-type]
        commitments=sorted(int(c) for c in counted.commitments),  # type: ignore[misc]
        endorsed_at=timestamp(counted.endorsed_at),
        member_count=counted.member_count,
    )


def idea_message(idea: Idea) -> ideas_pb2.Idea:
    return ideas_pb2.Idea(
        id=idea.id,
        tenant_id=idea.tenant_id,
        title=idea.title,
        problem=idea.problem,
        product_area=idea.product_area,
        tags=list(idea.tags),
        source_channel=idea.source_channel,  # type: ignore[arg-type]
        submitted_by=member_message(idea.submitted_by),
        created_at=timestamp(idea.created_at),
        updated_at=timestamp(idea.updated_at),
        status=int(idea.status),  # type: ignore[arg-type]
        stage=idea.stage,
        merged_into=idea.merged_into,
        version=idea.version,
        endorsements=[
            organization_endorsement_message(e) for e in idea.organization_endorsements()
        ],
    )


def idea_submitted(idea: Idea) -> events_pb2.Event:
    event = new_event(
        tenant_id=idea.tenant_id, idea_id=idea.id, producer=PRODUCER, at=idea.created_at
    )
    counted = idea.organization_endorsement(idea.submitted_by.organization_id)
    payload = event.idea_submitted
    payload.title = idea.title
    payload.problem = idea.problem
    payload.product_area = idea.product_area
    payload.tags.extend(idea.tags)
    payload.source_channel = idea.source_channel  # type: ignore[assignment]
    payload.submitted_by.CopyFrom(member_message(idea.submitted_by))
    if counted is not None:
        payload.endorsement.CopyFrom(organization_endorsement_message(counted))
    payload.idea_version = idea.version
    payload.created_at.CopyFrom(timestamp(idea.created_at))
    return event
