"""How evidence records, an idea's customers and its tally are kept in MongoDB.

Keys and documents only (see `evidence.py` for the collections and their indexes). A
record's `_id` is its path, tenant/idea/organization, each part percent-encoded so that
"/" only ever separates: every record of one idea is one range of the `_id` index.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from quorum_common.mongo import Document
from quorum_validation.criteria import Dominant
from quorum_validation.gate import (
    Commitment,
    Endorsement,
    ExclusionReason,
    Importance,
    Organization,
    OrganizationWeight,
    Relationship,
)
from quorum_validation.messages import policy_document, policy_from
from quorum_validation.tally import Contribution, Customer, IdeaTally, Member


@functools.lru_cache(maxsize=65_536)
def _part(part: str) -> str:
    # Cached: a batch names the same tenant and idea in every key.
    return quote(part, safe="")


def _path(*parts: str) -> str:
    return "/".join([_part(part) for part in parts])


def record_key(tenant_id: str, idea_id: str, organization_id: str) -> str:
    return _path(tenant_id, idea_id, organization_id)


def under(tenant_id: str, idea_id: str) -> Document:
    """The `_id` range of every record of one idea."""
    # "0" follows "/" in every collation of code points; no encoded part contains "/".
    prefix = _path(tenant_id, idea_id)
    return {"$gt": f"{prefix}/", "$lt": f"{prefix}0"}


@dataclass(frozen=True)
class Record:
    """One organization's evidence on one idea."""

    organization_id: str
    # The idea's version of the last event applied to this organization.
    version: int
    endorsement: Endorsement | None  # None: no member endorses any more (tombstone)
    member_count: int = 0
    # The directory as last read for it (None: not in the directory).
    organization: Organization | None = None
    chain: tuple[str, ...] = ()
    # How it counts toward the gate the tally judges (None: no tally judges it).
    contribution: Contribution | None = None
    # Counted under a policy with a maximum age: indexed by the date it was made.
    dated: bool = False
    # The tally generation its contribution counts toward.
    generation: int = 0

    @property
    def member(self) -> Member | None:
        return self.contribution.member if self.contribution else None


def endorsement_fields(endorsement: Endorsement, member_count: int) -> Document:
    return {
        "importance": int(endorsement.importance),
        "commitments": sorted(c.value for c in endorsement.commitments),
        "endorsed_at": endorsement.endorsed_at,
        "member_count": member_count,
    }


def _organization_fields(org: Organization) -> Document:
    return {
        "name": org.name,
        "segment": org.segment,
        "arr": org.arr,
        "relationship": org.relationship.value,
        "poor_fit": org.poor_fit,
        "parent_id": org.parent_id or "",
    }


def _organization(oid: str, doc: Document) -> Organization:
    return Organization(
        organization_id=oid,
        name=doc["name"],
        segment=doc["segment"],
        arr=doc["arr"],
        relationship=Relationship(doc["relationship"]),
        poor_fit=doc["poor_fit"],
        parent_id=doc["parent_id"] or None,
    )


def record_document(tenant_id: str, idea_id: str, record: Record) -> Document:
    oid, endorsement, contribution = record.organization_id, record.endorsement, record.contribution
    eligible = contribution is not None and contribution.member is not None
    doc: Document = {
        "_id": record_key(tenant_id, idea_id, oid),
        "tenant_id": tenant_id,
        "idea_id": idea_id,
        "organization_id": oid,
        "version": record.version,
        "live": endorsement is not None,
        "endorsement": (
            endorsement_fields(endorsement, record.member_count) if endorsement else None
        ),
        "organization": _organization_fields(record.organization) if record.organization else None,
        "chain": list(record.chain or (oid,)),
        "affiliate": len(record.chain) > 1,
        "customer_id": contribution.customer_id if contribution else oid,
        "eligible": eligible,
        "excluded_reason": (
            contribution.excluded_reason.value
            if contribution and contribution.excluded_reason
            else None
        ),
        "weight": contribution.weight if contribution else 0.0,
        "rank": 0 if eligible else 1,
        "dated": record.dated and eligible,
        "generation": record.generation,
    }
    if endorsement is not None:
        doc["endorsed_at"] = endorsement.endorsed_at
    return doc


def record_of(doc: Document) -> Record:
    oid = doc["organization_id"]
    raw = doc.get("endorsement")
    endorsement = None
    if raw is not None:
        endorsement = Endorsement(
            organization_id=oid,
            importance=Importance(raw["importance"]),
            commitments=frozenset(Commitment(c) for c in raw["commitments"]),
            endorsed_at=raw["endorsed_at"],
        )
    organization = _organization(oid, doc["organization"]) if doc.get("organization") else None
    contribution = None
    if "customer_id" in doc:
        member = None
        if doc["eligible"] and endorsement is not None and organization is not None:
            member = Member(
                organization_id=oid,
                customer_id=doc["customer_id"],
                weight=doc["weight"],
                name=organization.name,
                segment=organization.segment,
                relationship=organization.relationship,
                commitments=endorsement.commitments,
                endorsed_at=endorsement.endorsed_at,
            )
        reason = doc.get("excluded_reason")
        contribution = Contribution(
            doc["customer_id"],
            doc["weight"],
            ExclusionReason(reason) if reason else None,
            member,
        )
    return Record(
        organization_id=oid,
        version=doc["version"],
        endorsement=endorsement,
        member_count=raw["member_count"] if raw else 0,
        organization=organization,
        chain=tuple(doc.get("chain", ())),
        contribution=contribution,
        dated=doc.get("dated", False),
        generation=doc.get("generation", 0),
    )


def _member_document(member: Member) -> Document:
    return {
        "organization_id": member.organization_id,
        "customer_id": member.customer_id,
        "weight": member.weight,
        "name": member.name,
        "segment": member.segment,
        "relationship": member.relationship.value,
        "commitments": sorted(c.value for c in member.commitments),
        "endorsed_at": member.endorsed_at,
    }


def _member_of(doc: Document) -> Member:
    return Member(
        organization_id=doc["organization_id"],
        customer_id=doc["customer_id"],
        weight=doc["weight"],
        name=doc["name"],
        segment=doc["segment"],
        relationship=Relationship(doc["relationship"]),
        commitments=frozenset(Commitment(c) for c in doc["commitments"]),
        endorsed_at=doc["endorsed_at"],
    )


def customer_key(tenant_id: str, idea_id: str, customer_id: str) -> str:
    return _path(tenant_id, idea_id, customer_id)


def customer_document(
    tenant_id: str, idea_id: str, customer: Customer, generation: int
) -> Document:
    assert customer.heaviest is not None
    return {
        "_id": customer_key(tenant_id, idea_id, customer.customer_id),
        "tenant_id": tenant_id,
        "idea_id": idea_id,
        "generation": generation,
        "customer_id": customer.customer_id,
        # Exact, as hexadecimal units of 2**-1074 (too wide for any BSON number).
        "exact": format(customer.exact, "x"),
        "weight": customer.weight,
        "members": customer.members,
        "commitments": {c.value: n for c, n in sorted(customer.commitments.items()) if n},
        "heaviest": _member_document(customer.heaviest),
    }


def customer_of(doc: Document) -> Customer:
    return Customer(
        customer_id=doc["customer_id"],
        exact=int(doc["exact"], 16),
        members=doc["members"],
        commitments={Commitment(c): n for c, n in doc["commitments"].items()},
        heaviest=_member_of(doc["heaviest"]),
    )


def tally_document(tally: IdeaTally) -> Document:
    top = tally.top
    return {
        "policy": policy_document(tally.policy),
        "sponsor_customer": tally.sponsor_customer,
        "sponsor_counted": tally.sponsor_counted,
        "customers": tally.customers,
        "segments": [[s, n] for s, n in sorted(tally.segments.items())],
        "active": tally.active,
        "commitments": {c.value: n for c, n in sorted(tally.commitments.items()) if n},
        "exact": format(tally.exact, "x"),
        "top": (
            {
                "customer_id": top.customer_id,
                "weight": top.weight,
                "name": top.name,
                "organization_id": top.organization_id,
            }
            if top
            else None
        ),
        "fresh_since": tally.fresh_since,
        "generation": tally.generation,
        "pending": tally.pending,
        "leftovers": tally.leftovers,
    }


def _dominant_of(doc: Mapping[str, Any]) -> Dominant:
    # A tally saved before the leading member's id was kept: its customer's id, the
    # member's own unless affiliates count once; the next change of the lead sets it.
    organization_id = doc.get("organization_id", doc["customer_id"])
    return Dominant(doc["customer_id"], doc["weight"], doc["name"], organization_id)


def tally_of(doc: Mapping[str, Any]) -> IdeaTally:
    top = doc["top"]
    return IdeaTally(
        policy=policy_from(doc["policy"]),
        sponsor_customer=doc["sponsor_customer"],
        customers=doc["customers"],
        segments=dict(doc["segments"]),
        active=doc["active"],
        commitments={Commitment(c): n for c, n in doc["commitments"].items()},
        exact=int(doc["exact"], 16),
        top=_dominant_of(top) if top else None,
        sponsor_counted=doc["sponsor_counted"],
        fresh_since=doc["fresh_since"],
        generation=doc.get("generation", 0),
        pending=doc.get("pending", False),
        leftovers=doc.get("leftovers", False),
    )


def report_weights(
    records: Iterable[Record], total: float, sponsor_id: str
) -> tuple[OrganizationWeight, ...]:
    """Report rows of judged records, in the order given (the report's own)."""
    rows = []
    for record in records:
        assert record.endorsement is not None
        assert record.contribution is not None
        org, counted = record.organization, record.contribution
        weight = counted.weight
        rows.append(
            OrganizationWeight(
                organization_id=record.organization_id,
                organization_name=org.name if org else "",
                customer_id=counted.customer_id,
                segment=org.segment if org else "",
                relationship=org.relationship if org else None,
                arr=org.arr if org else 0,
                importance=record.endorsement.importance,
                weight=weight,
                share=weight / total if total > 0 else 0.0,
                eligible=counted.member is not None,
                excluded_reason=counted.excluded_reason,
                sponsor=record.organization_id == sponsor_id,
            )
        )
    return tuple(rows)
