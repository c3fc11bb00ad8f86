"""What idea events change in who is told about an idea: pure rules, no I/O.

The recipients projection holds one record per (tenant, idea, member) that endorses
the idea, and one small document per idea (its title and submitter). A consumed
batch is folded into the last word about each record before anything is written:
one idea's events travel in order on one partition, so the last event in the batch
that names a member decides whether that member endorses the idea afterwards.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

from quorum.domain.v1 import domain_pb2
from quorum.events.v1 import events_pb2
from quorum_notifications.domain import Member

# The idea events that change who is told (event_type names).
RECIPIENT_EVENTS = frozenset(
    {"IdeaSubmitted", "IdeaEndorsed", "EndorsementWithdrawn", "IdeasMerged"}
)

IdeaRef = tuple[str, str]  # (tenant_id, idea_id)
MemberRef = tuple[str, str, Member]  # (tenant_id, idea_id, member)


def _escape(value: str) -> str:
    # Escaped ids contain no "/", so "/" can separate them and a prefix names one
    # tenant's idea (or one organization of it) and nothing else.
    return quote(value, safe="")


def idea_prefix(tenant_id: str, idea_id: str) -> str:
    """Every member record of the idea has an id that starts with this."""
    return f"{_escape(tenant_id)}/{_escape(idea_id)}/"


def organization_prefix(tenant_id: str, idea_id: str, organization_id: str) -> str:
    return f"{idea_prefix(tenant_id, idea_id)}{_escape(organization_id)}/"


def prefix_end(prefix: str) -> str:
    """The least id above every id that starts with `prefix` (which ends with "/")."""
    return prefix[:-1] + chr(ord("/") + 1)


def member_key(tenant_id: str, idea_id: str, member: Member) -> str:
    """A member record's id: ids sort by tenant, idea, organization, member."""
    return organization_prefix(tenant_id, idea_id, member.organization_id) + _escape(
        member.member_id
    )


def member_of_key(key: str) -> Member:
    _, _, organization_id, member_id = key.split("/")
    return Member(unquote(organization_id), unquote(member_id))


def _member(ref: domain_pb2.MemberRef) -> Member:
    return Member(ref.organization_id, ref.member_id)


def member_document(member: Member) -> dict[str, str]:
    return {"organization_id": member.organization_id, "member_id": member.member_id}


@dataclass
class Changes:
    """A batch's last word on each member record and each idea document."""

    # Whether the member endorses the idea after the batch.
    members: dict[MemberRef, bool] = field(default_factory=dict)
    # Fields to set on the idea's document.
    ideas: dict[IdeaRef, dict[str, Any]] = field(default_factory=dict)

    def _idea(self, tenant_id: str, idea_id: str, **fields: Any) -> None:
        self.ideas.setdefault((tenant_id, idea_id), {}).update(fields)


def changes(events: Iterable[events_pb2.Event]) -> Changes:
    """Fold events, in order, into what the projection must write."""
    found = Changes()
    for event in events:
        tenant_id, idea_id = event.envelope.tenant_id, event.envelope.idea_id
        kind = event.WhichOneof("payload")
        if kind == "idea_submitted":
            submitted = event.idea_submitted
            submitter = _member(submitted.submitted_by)
            found._idea(
                tenant_id, idea_id, title=submitted.title, submitter=member_document(submitter)
            )
            found.members[(tenant_id, idea_id, submitter)] = True
        elif kind == "idea_endorsed":
            found.members[(tenant_id, idea_id, _member(event.idea_endorsed.member))] = True
        elif kind == "endorsement_withdrawn":
            found.members[(tenant_id, idea_id, _member(event.endorsement_withdrawn.member))] = False
        elif kind == "ideas_merged":
            merged = event.ideas_merged
            # Each part carries its own members; a part applied twice changes nothing.
            for ref in merged.carried_members:
                found.members[(tenant_id, merged.target_idea_id, _member(ref))] = True
            # The source keeps its people for the record; nothing happens to it any more.
            found._idea(tenant_id, merged.source_idea_id, merged_into=merged.target_idea_id)
    return found
