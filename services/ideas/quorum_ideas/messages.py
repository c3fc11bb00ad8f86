"""Translations between the domain model and the protobuf contracts."""

from __future__ import annotations

from quorum.domain.v1 import domain_pb2
from quorum.events.v1 import events_pb2
from quorum.ideas.v1 import ideas_pb2
from quorum_common.events import new_event, timestamp
from quorum_ideas.domain import (
    Idea,
    Member,
    MemberEndorsement,
    Merge,
    OrganizationBacking,
    OrganizationEndorsement,
)

PRODUCER = "ideas"
# Organizations per IdeasMerged event: a merge of a popular idea is told in parts, so
# that no event outgrows what a Kafka record may hold.
MERGE_PART = 500


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
        organization_count=idea.organization_count,
        endorsement_count=idea.endorsement_count,
    )


def idea_submitted(idea: Idea, endorsement: MemberEndorsement) -> events_pb2.Event:
    """`endorsement` is the submitting member's, recorded with the idea."""
    event = new_event(
        tenant_id=idea.tenant_id, idea_id=idea.id, producer=PRODUCER, at=idea.created_at
    )
    counted = OrganizationBacking(endorsement.member.organization_id, (endorsement,)).counted()
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


def _event_for(idea: Idea) -> events_pb2.Event:
    # The change's own time, so an event and the idea it describes agree.
    return new_event(
        tenant_id=idea.tenant_id, idea_id=idea.id, producer=PRODUCER, at=idea.updated_at
    )


def idea_endorsed(
    idea: Idea, endorsement: MemberEndorsement, counted: OrganizationEndorsement | None
) -> events_pb2.Event:
    """`idea` and `counted` (the organization's counted endorsement) are as after it."""
    event = _event_for(idea)
    payload = event.idea_endorsed
    payload.member.CopyFrom(member_message(endorsement.member))
    payload.importance = int(endorsement.importance)  # type: ignore[assignment]
    payload.impact = endorsement.impact
    payload.commitments.extend(sorted(int(c) for c in endorsement.commitments))  # type: ignore[misc]
    if counted is not None:
        payload.organization_endorsement.CopyFrom(organization_endorsement_message(counted))
    payload.idea_version = idea.version
    payload.organization_count = idea.organization_count
    return event


def endorsement_withdrawn(
    idea: Idea, member: Member, counted: OrganizationEndorsement | None
) -> events_pb2.Event:
    """`idea` and `counted` are as after the withdrawal; `counted` None: none of it is left."""
    event = _event_for(idea)
    payload = event.endorsement_withdrawn
    payload.member.CopyFrom(member_message(member))
    payload.organization_id = member.organization_id
    if counted is not None:
        payload.organization_endorsement.CopyFrom(organization_endorsement_message(counted))
    payload.idea_version = idea.version
    payload.organization_count = idea.organization_count
    return event


def ideas_merged(merge: Merge, actor: domain_pb2.Actor) -> list[events_pb2.Event]:
    """The merge in parts of MERGE_PART organizations, keyed by the target.

    Each part carries the target's counted endorsement of its organizations and the
    members of theirs that moved; consumers apply each organization on its own.
    """
    changed = [b for b in merge.changed if b.counted() is not None]
    chunks = [changed[i : i + MERGE_PART] for i in range(0, len(changed), MERGE_PART)] or [[]]
    carried: dict[str, list[Member]] = {}
    for member in merge.carried:
        carried.setdefault(member.organization_id, []).append(member)
    events = []
    for number, chunk in enumerate(chunks, start=1):
        event = _event_for(merge.target)
        payload = event.ideas_merged
        payload.source_idea_id = merge.source.id
        payload.target_idea_id = merge.target.id
        for backing in chunk:
            counted = backing.counted()
            assert counted is not None
            payload.target_endorsements.append(organization_endorsement_message(counted))
            payload.carried_members.extend(
                member_message(m) for m in carried.get(backing.organization_id, ())
            )
        payload.actor.CopyFrom(actor)
        payload.idea_version = merge.target.version
        payload.organization_count = merge.target.organization_count
        payload.part, payload.parts = number, len(chunks)
        events.append(event)
    return events
