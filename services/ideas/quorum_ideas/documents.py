"""How ideas and endorsements are kept in MongoDB: keys and documents.

Three collections, none of which grows a document with an idea's popularity:
`ideas` (the idea and its counts), `endorsements` (one record per endorsing member)
and `organization_endorsements` (one per endorsing organization: what it counts as).
A record's `_id` is its path, tenant/idea/organization[/member], each part
percent-encoded so that "/" only ever separates: every record of one idea, or of one
organization on one idea, is a range of the `_id` index, read without another index.
"""

from __future__ import annotations

from urllib.parse import quote

from quorum_common.mongo import Document
from quorum_ideas.domain import (
    BackingTotals,
    Commitment,
    Idea,
    Importance,
    Member,
    MemberEndorsement,
    OrganizationBacking,
    OrganizationEndorsement,
    Status,
)

IDEAS = "ideas"
ENDORSEMENTS = "endorsements"
ORGANIZATION_ENDORSEMENTS = "organization_endorsements"
REQUESTS = "requests"


def _path(*parts: str) -> str:
    return "/".join(quote(part, safe="") for part in parts)


def organization_key(tenant_id: str, idea_id: str, organization_id: str) -> str:
    return _path(tenant_id, idea_id, organization_id)


def member_key(tenant_id: str, idea_id: str, member: Member) -> str:
    return _path(tenant_id, idea_id, member.organization_id, member.member_id)


def request_key(tenant_id: str, member: Member, request_id: str) -> str:
    """A SubmitIdea request id is the submitter's own: another member's same id is another."""
    return "requests/" + _path(tenant_id, member.organization_id, member.member_id, request_id)


def under(prefix: str) -> Document:
    """An `_id` range: every key that continues `prefix` with "/"."""
    # "0" follows "/" in every collation of code points; no encoded part contains "/".
    return {"$gt": f"{prefix}/", "$lt": f"{prefix}0"}


def idea_prefix(tenant_id: str, idea_id: str) -> str:
    return _path(tenant_id, idea_id)


def member_document(member: Member) -> Document:
    return {
        "organization_id": member.organization_id,
        "member_id": member.member_id,
        "job_function": member.job_function,
    }


def member_of(doc: Document) -> Member:
    return Member(doc["organization_id"], doc["member_id"], doc.get("job_function", 0))


def idea_document(idea: Idea) -> Document:
    return {
        "_id": idea.id,
        "tenant_id": idea.tenant_id,
        "title": idea.title,
        "problem": idea.problem,
        "product_area": idea.product_area,
        "tags": list(idea.tags),
        "source_channel": idea.source_channel,
        "submitted_by": member_document(idea.submitted_by),
        "created_at": idea.created_at,
        "updated_at": idea.updated_at,
        "status": int(idea.status),
        "stage": idea.stage,
        "merged_into": idea.merged_into,
        "version": idea.version,
        "organization_count": idea.organization_count,
        "endorsement_count": idea.endorsement_count,
    }


def idea_of(doc: Document) -> Idea:
    return Idea(
        id=doc["_id"],
        tenant_id=doc["tenant_id"],
        title=doc["title"],
        problem=doc["problem"],
        product_area=doc["product_area"],
        tags=tuple(doc["tags"]),
        source_channel=doc["source_channel"],
        submitted_by=member_of(doc["submitted_by"]),
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
        status=Status(doc["status"]),
        stage=doc.get("stage", ""),
        merged_into=doc.get("merged_into", ""),
        version=doc["version"],
        organization_count=doc.get("organization_count", 0),
        endorsement_count=doc.get("endorsement_count", 0),
    )


def endorsement_document(tenant_id: str, idea_id: str, endorsement: MemberEndorsement) -> Document:
    return {
        "_id": member_key(tenant_id, idea_id, endorsement.member),
        "tenant_id": tenant_id,
        "idea_id": idea_id,
        **endorsement_fields(endorsement),
    }


def endorsement_fields(endorsement: MemberEndorsement) -> Document:
    return {
        "member": member_document(endorsement.member),
        "importance": int(endorsement.importance),
        "impact": endorsement.impact,
        "commitments": sorted(int(c) for c in endorsement.commitments),
        "endorsed_at": endorsement.endorsed_at,
    }


def endorsement_of(doc: Document) -> MemberEndorsement:
    return MemberEndorsement(
        member=member_of(doc["member"]),
        importance=Importance(doc["importance"]),
        impact=doc["impact"],
        commitments=frozenset(Commitment(c) for c in doc["commitments"]),
        endorsed_at=doc["endorsed_at"],
    )


def organization_document(
    tenant_id: str, idea_id: str, counted: OrganizationEndorsement, totals: BackingTotals
) -> Document:
    return {
        "_id": organization_key(tenant_id, idea_id, counted.organization_id),
        "tenant_id": tenant_id,
        "idea_id": idea_id,
        "organization_id": counted.organization_id,
        "importance": int(counted.importance),
        "commitments": sorted(int(c) for c in counted.commitments),
        "endorsed_at": counted.endorsed_at,
        "member_count": counted.member_count,
        # Members by importance and by commitment (keys are the numbers, as text).
        "totals": {
            "importance": {str(int(k)): n for k, n in sorted(totals.importance.items())},
            "commitments": {str(int(k)): n for k, n in sorted(totals.commitments.items())},
        },
    }


def totals_of(doc: Document) -> BackingTotals | None:
    """The totals an organization record keeps; None for a record written before they
    were kept (its backing is then read whole once, and the record rewritten with them)."""
    totals = doc.get("totals")
    if totals is None:
        return None
    return BackingTotals(
        members=doc["member_count"],
        importance={Importance(int(k)): n for k, n in totals["importance"].items()},
        commitments={Commitment(int(k)): n for k, n in totals["commitments"].items()},
        latest=doc["endorsed_at"],
    )


def organization_endorsement_of(doc: Document) -> OrganizationEndorsement:
    return OrganizationEndorsement(
        organization_id=doc["organization_id"],
        importance=Importance(doc["importance"]),
        commitments=frozenset(Commitment(c) for c in doc["commitments"]),
        endorsed_at=doc["endorsed_at"],
        member_count=doc["member_count"],
    )


def backings_of(docs: list[Document]) -> dict[str, OrganizationBacking]:
    """Member records grouped into each organization's backing."""
    grouped: dict[str, list[MemberEndorsement]] = {}
    for doc in docs:
        endorsement = endorsement_of(doc)
        grouped.setdefault(endorsement.member.organization_id, []).append(endorsement)
    return {org: OrganizationBacking(org, tuple(es)) for org, es in grouped.items()}
