"""Translations between the gate engine's types, MongoDB documents and protobuf."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from quorum.domain.v1 import domain_pb2
from quorum_common.events import from_timestamp, timestamp
from quorum_validation.gate import (
    DEFAULT_RELATIONSHIP_FACTORS,
    Commitment,
    Council,
    CouncilRequirement,
    Endorsement,
    GatePolicy,
    GateReport,
    Importance,
    Organization,
    OrganizationWeight,
    Relationship,
    Weighting,
)
from quorum_validation.gate_model import Named, Wording, names_anyone
from quorum_validation.limits import (
    bounded_arr,
    bounded_count,
    bounded_factor,
    bounded_max_age,
    bounded_quorum,
    bounded_share,
    bounded_weight,
)

Document = dict[str, Any]


# --- enums: protobuf numbers <-> the engine's names ----------------------------


def commitment_of(number: int) -> Commitment:
    return Commitment(domain_pb2.Commitment.Name(number).removeprefix("COMMITMENT_"))  # type: ignore[arg-type]


def commitment_number(commitment: Commitment) -> int:
    return int(domain_pb2.Commitment.Value(f"COMMITMENT_{commitment.value}"))


def relationship_of(number: int) -> Relationship:
    return Relationship(domain_pb2.Relationship.Name(number).removeprefix("RELATIONSHIP_"))  # type: ignore[arg-type]


def relationship_number(relationship: Relationship | None) -> int:
    if relationship is None:
        return 0
    return int(domain_pb2.Relationship.Value(f"RELATIONSHIP_{relationship.value}"))


def weighting_of(number: int) -> Weighting:
    return Weighting(domain_pb2.Weighting.Name(number).removeprefix("WEIGHTING_"))  # type: ignore[arg-type]


def weighting_number(weighting: Weighting) -> int:
    return int(domain_pb2.Weighting.Value(f"WEIGHTING_{weighting.value}"))


# --- endorsements --------------------------------------------------------------


def endorsement_of(message: domain_pb2.OrganizationEndorsement) -> Endorsement:
    return Endorsement(
        organization_id=message.organization_id,
        importance=Importance(message.importance),
        commitments=frozenset(commitment_of(c) for c in message.commitments),
        endorsed_at=from_timestamp(message.endorsed_at),
    )


def endorsement_document(endorsement: Endorsement) -> Document:
    return {
        "organization_id": endorsement.organization_id,
        "importance": int(endorsement.importance),
        "commitments": sorted(c.value for c in endorsement.commitments),
        "endorsed_at": endorsement.endorsed_at,
    }


def endorsement_from(doc: Document) -> Endorsement:
    return Endorsement(
        organization_id=doc["organization_id"],
        importance=Importance(doc["importance"]),
        commitments=frozenset(Commitment(c) for c in doc["commitments"]),
        endorsed_at=doc["endorsed_at"],
    )


# --- organizations and councils -------------------------------------------------


def organization_document(
    tenant_id: str, message: domain_pb2.Organization, at: datetime
) -> Document:
    return {
        "_id": f"{tenant_id}/{message.organization_id}",
        "tenant_id": tenant_id,
        "organization_id": message.organization_id,
        "name": message.name,
        "segment": message.segment,
        "arr": message.arr,
        "relationship": relationship_of(message.relationship).value,
        "poor_fit": message.poor_fit,
        "parent_id": message.parent_id,
        "peer_visible": message.peer_visible,
        "contact": message.contact,
        "updated_at": at,
    }


def organization_message(doc: Document) -> domain_pb2.Organization:
    return domain_pb2.Organization(
        organization_id=doc["organization_id"],
        name=doc["name"],
        segment=doc["segment"],
        arr=doc["arr"],
        relationship=relationship_number(Relationship(doc["relationship"])),  # type: ignore[arg-type]
        poor_fit=doc["poor_fit"],
        parent_id=doc["parent_id"],
        peer_visible=doc["peer_visible"],
        contact=doc.get("contact", ""),
        updated_at=timestamp(doc["updated_at"]),
    )


def organization_from(doc: Document) -> Organization:
    return Organization(
        organization_id=doc["organization_id"],
        name=doc["name"],
        segment=doc["segment"],
        arr=bounded_arr(doc["arr"]),
        relationship=Relationship(doc["relationship"]),
        poor_fit=doc["poor_fit"],
        parent_id=doc["parent_id"] or None,
    )


def council_document(tenant_id: str, message: domain_pb2.Council, at: datetime) -> Document:
    return {
        "_id": f"{tenant_id}/{message.council_id}",
        "tenant_id": tenant_id,
        "council_id": message.council_id,
        "name": message.name,
        "charter": message.charter,
        "member_organization_ids": sorted(set(message.member_organization_ids)),
        "quorum": message.quorum or None,
        "updated_at": at,
    }


def council_message(doc: Document) -> domain_pb2.Council:
    return domain_pb2.Council(
        council_id=doc["council_id"],
        name=doc["name"],
        charter=doc["charter"],
        member_organization_ids=doc["member_organization_ids"],
        quorum=doc.get("quorum") or 0.0,
    )


def council_from(doc: Document) -> Council:
    return Council(
        council_id=doc["council_id"],
        name=doc["name"],
        member_ids=frozenset(doc["member_organization_ids"]),
        quorum=bounded_quorum(doc.get("quorum"), absent=None),
    )


# --- gate policies ----------------------------------------------------------------


def policy_document(policy: GatePolicy) -> Document:
    council = policy.council_approval
    return {
        "stage": policy.stage,
        "version": policy.version,
        "min_customers": policy.min_customers,
        "min_segments": policy.min_segments,
        "min_active": policy.min_active,
        "min_weight": policy.min_weight,
        "max_share": policy.max_share,
        "min_commitments": [[c.value, k] for c, k in policy.min_commitments],
        "council_approval": (
            {"council_id": council.council_id, "quorum": council.quorum} if council else None
        ),
        "weighting": policy.weighting.value,
        "relationship_factors": {r.value: f for r, f in policy.relationship_factors.items()},
        "affiliates_count_once": policy.affiliates_count_once,
        "sponsor_excluded": policy.sponsor_excluded,
        "max_age_days": policy.max_age_days,
    }


def policy_from(doc: Mapping[str, Any]) -> GatePolicy:
    """A stored policy, its numbers within the bounds (limits.py) whenever it was stored."""
    council = doc.get("council_approval")
    # One requirement per commitment; a stored duplicate keeps its strictest count.
    commitments: dict[Commitment, int] = {}
    for name, count in doc["min_commitments"]:
        commitment = Commitment(name)
        commitments[commitment] = max(commitments.get(commitment, 0), bounded_count(count))
    return GatePolicy(
        stage=doc["stage"],
        version=doc["version"],
        min_customers=bounded_count(doc["min_customers"]),
        min_segments=bounded_count(doc["min_segments"]),
        min_active=bounded_count(doc["min_active"]),
        min_weight=bounded_weight(doc["min_weight"]),
        max_share=bounded_share(doc["max_share"]),
        min_commitments=tuple(commitments.items()),
        council_approval=(
            CouncilRequirement(
                council["council_id"], bounded_quorum(council["quorum"], absent=0.5) or 0.5
            )
            if council
            else None
        ),
        weighting=Weighting(doc["weighting"]),
        relationship_factors={
            Relationship(r): bounded_factor(f) for r, f in doc["relationship_factors"].items()
        },
        affiliates_count_once=doc["affiliates_count_once"],
        sponsor_excluded=doc["sponsor_excluded"],
        max_age_days=bounded_max_age(doc["max_age_days"]),
    )


def policy_message(policy: GatePolicy, updated_at: datetime | None = None) -> domain_pb2.GatePolicy:
    message = domain_pb2.GatePolicy(
        stage=policy.stage,
        version=policy.version,
        min_customers=policy.min_customers,
        min_segments=policy.min_segments,
        min_active=policy.min_active,
        min_weight=policy.min_weight or 0.0,
        max_share=policy.max_share or 0.0,
        min_commitments=[
            domain_pb2.CommitmentRequirement(commitment=commitment_number(c), count=k)  # type: ignore[arg-type]
            for c, k in policy.min_commitments
        ],
        weighting=weighting_number(policy.weighting),  # type: ignore[arg-type]
        relationship_factors=domain_pb2.RelationshipFactors(
            active=policy.relationship_factor(Relationship.ACTIVE),
            prospect=policy.relationship_factor(Relationship.PROSPECT),
            churned=policy.relationship_factor(Relationship.CHURNED),
        ),
        affiliates_count_once=policy.affiliates_count_once,
        sponsor_excluded=policy.sponsor_excluded,
        max_age_days=policy.max_age_days or 0,
    )
    if policy.council_approval is not None:
        message.council_approval.CopyFrom(
            domain_pb2.CouncilRequirement(
                council_id=policy.council_approval.council_id,
                quorum=policy.council_approval.quorum,
            )
        )
    if updated_at is not None:
        message.updated_at.CopyFrom(timestamp(updated_at))
    return message


def policy_of(message: domain_pb2.GatePolicy, version: int) -> GatePolicy:
    """A policy from the wire (already checked by the API); the service sets its version."""
    factors = dict(DEFAULT_RELATIONSHIP_FACTORS)
    if message.HasField("relationship_factors"):
        given = message.relationship_factors
        factors = {
            Relationship.ACTIVE: given.active,
            Relationship.PROSPECT: given.prospect,
            Relationship.CHURNED: given.churned,
        }
    council = None
    if message.HasField("council_approval"):
        council = CouncilRequirement(
            message.council_approval.council_id, message.council_approval.quorum or 0.5
        )
    return GatePolicy(
        stage=message.stage,
        version=version,
        min_customers=message.min_customers,
        min_segments=message.min_segments,
        min_active=message.min_active,
        min_weight=message.min_weight or None,
        max_share=message.max_share or None,
        min_commitments=tuple(
            (commitment_of(r.commitment), r.count) for r in message.min_commitments
        ),
        council_approval=council,
        weighting=weighting_of(message.weighting),
        relationship_factors=factors,
        affiliates_count_once=message.affiliates_count_once,
        sponsor_excluded=message.sponsor_excluded,
        max_age_days=message.max_age_days or None,
    )


# --- reports -----------------------------------------------------------------------

# A report lists at most this many organizations' weights (the heaviest, in its order)
# and counts the others, so that no event or answer grows with an idea's popularity.
LISTED = 100


def listed(report: GateReport) -> tuple[tuple[OrganizationWeight, ...], int]:
    """The weights a report shows, and how many it leaves out."""
    weights = report.weights
    return weights[:LISTED], report.weights_omitted + max(0, len(weights) - LISTED)


def weight_document(w: OrganizationWeight) -> Document:
    return {
        "organization_id": w.organization_id,
        "organization_name": w.organization_name,
        "customer_id": w.customer_id,
        "segment": w.segment,
        "relationship": w.relationship.value if w.relationship else None,
        "arr": w.arr,
        "importance": int(w.importance),
        "weight": w.weight,
        "share": w.share,
        "eligible": w.eligible,
        "excluded_reason": w.excluded_reason.value if w.excluded_reason else None,
        "sponsor": w.sponsor,
    }


def phrases(wording: Wording) -> list[domain_pb2.Phrase]:
    """A sentence's parts, sent only when it names an organization (its text says the rest)."""
    if not names_anyone(wording):
        return []
    return [
        domain_pb2.Phrase(text=part.name, organization_id=part.organization_id)
        if isinstance(part, Named)
        else domain_pb2.Phrase(text=part)
        for part in wording
    ]


def report_message(report: GateReport) -> domain_pb2.GateReport:
    shown, omitted = listed(report)
    return domain_pb2.GateReport(
        stage=report.stage,
        policy_version=report.policy_version,
        holds=report.holds,
        criteria=[
            domain_pb2.CriterionResult(
                name=c.name,
                required=c.required,
                actual=c.actual,
                met=c.met,
                subject=c.subject,
                detail=c.detail,
                detail_phrases=phrases(c.wording),
            )
            for c in report.criteria
        ],
        summary=report.summary,
        summary_phrases=phrases(report.summary_wording),
        weights=[
            domain_pb2.OrganizationWeight(
                organization_id=w.organization_id,
                organization_name=w.organization_name,
                customer_id=w.customer_id,
                segment=w.segment,
                relationship=relationship_number(w.relationship),  # type: ignore[arg-type]
                arr=w.arr,
                importance=int(w.importance),  # type: ignore[arg-type]
                weight=w.weight,
                share=w.share,
                eligible=w.eligible,
                excluded_reason=w.excluded_reason.value if w.excluded_reason else "",
                sponsor=w.sponsor,
            )
            for w in shown
        ],
        evaluated_at=timestamp(report.evaluated_at),
        weights_omitted=omitted,
    )


def report_document(report: GateReport) -> Document:
    """A decision's report: criteria and the listed weights (every weight is kept beside)."""
    shown, omitted = listed(report)
    return {
        "stage": report.stage,
        "policy_version": report.policy_version,
        "holds": report.holds,
        "summary": report.summary,
        "evaluated_at": report.evaluated_at,
        "criteria": [
            {
                "name": c.name,
                "required": c.required,
                "actual": c.actual,
                "met": c.met,
                "subject": c.subject,
                "detail": c.detail,
            }
            for c in report.criteria
        ],
        "weights": [weight_document(w) for w in shown],
        "weights_omitted": omitted,
    }
