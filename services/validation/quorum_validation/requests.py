"""What a valid request to the validation service is: every bad field at once, by path.

The bounds of the numbers are limits.py's; a policy, an organization or a council
within them can always be evaluated, and nothing outside them is stored.
"""

from __future__ import annotations

import math
import re
import uuid

from quorum.domain.v1 import domain_pb2
from quorum_common.errors import Violations
from quorum_validation.limits import (
    ARR_MAX,
    COUNT_MAX,
    FACTOR_MAX,
    MAX_AGE_DAYS_MAX,
    WEIGHT_MAX,
)

ID_MAX = 128
NAME_MAX = 200
SEGMENT_MAX = 100
CONTACT_MAX = 320
REASON_MAX = 2_000
JUSTIFICATION_MIN = 20
CHARTER_MAX = 5_000
COUNCIL_MEMBERS_MAX = 500
STAGE_MAX = 100
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]*$")


def check_idea(violations: Violations, idea_id: str, field: str = "idea_id") -> None:
    try:
        uuid.UUID(idea_id)
    except ValueError:
        violations.add(field, "must be a UUID")


def idea_checked(idea_id: str) -> Violations:
    """A request about one idea; the caller adds its own checks, then raises. (Its tenant
    and actor are checked as it is decoded: quorum_common.callers.)"""
    violations = Violations()
    check_idea(violations, idea_id)
    return violations


def check_id(violations: Violations, field: str, value: str) -> None:
    if not value:
        violations.add(field, "is required")
    elif len(value) > ID_MAX or not _ID.match(value):
        violations.add(field, f"must be 1-{ID_MAX} letters, digits or ._:@- (no spaces)")


def check_text(
    violations: Violations, field: str, value: str, limit: int, required: bool = True
) -> None:
    if required and not value.strip():
        violations.add(field, "is required")
    elif len(value) > limit:
        violations.add(field, f"must be at most {limit} characters")


def check_stage(violations: Violations, field: str, value: str) -> None:
    if not value:
        violations.add(field, "is required")
    elif len(value) > STAGE_MAX or "\x00" in value:
        violations.add(field, f"must be a stage name of at most {STAGE_MAX} characters")


def _check_fraction(violations: Violations, field: str, value: float, what: str) -> None:
    if not math.isfinite(value) or not 0 <= value <= 1:
        violations.add(field, f"must be within (0, 1] ({what}), or 0")


def check_organization(violations: Violations, organization: domain_pb2.Organization) -> None:
    prefix = "organization"
    check_id(violations, f"{prefix}.organization_id", organization.organization_id)
    check_text(violations, f"{prefix}.name", organization.name, NAME_MAX)
    check_text(violations, f"{prefix}.segment", organization.segment, SEGMENT_MAX)
    check_text(violations, f"{prefix}.contact", organization.contact, CONTACT_MAX, required=False)
    if not 0 <= organization.arr <= ARR_MAX:
        violations.add(f"{prefix}.arr", f"must be within 0 and {ARR_MAX} (minor units)")
    if organization.relationship not in (
        domain_pb2.RELATIONSHIP_ACTIVE,
        domain_pb2.RELATIONSHIP_PROSPECT,
        domain_pb2.RELATIONSHIP_CHURNED,
    ):
        violations.add(f"{prefix}.relationship", "must be ACTIVE, PROSPECT or CHURNED")
    if organization.parent_id:
        check_id(violations, f"{prefix}.parent_id", organization.parent_id)
        if organization.parent_id == organization.organization_id:
            violations.add(f"{prefix}.parent_id", "must not be the organization itself")


def check_council(violations: Violations, council: domain_pb2.Council) -> None:
    check_id(violations, "council.council_id", council.council_id)
    check_text(violations, "council.name", council.name, NAME_MAX)
    check_text(violations, "council.charter", council.charter, CHARTER_MAX, required=False)
    if len(council.member_organization_ids) > COUNCIL_MEMBERS_MAX:
        violations.add("council.member_organization_ids", f"at most {COUNCIL_MEMBERS_MAX}")
    else:
        for index, member in enumerate(council.member_organization_ids):
            check_id(violations, f"council.member_organization_ids[{index}]", member)
    _check_fraction(violations, "council.quorum", council.quorum, "0: the policy's quorum")


def _check_count(violations: Violations, field: str, value: int) -> None:
    if not 0 <= value <= COUNT_MAX:
        violations.add(field, f"must be within 0 and {COUNT_MAX}")


def check_policy(
    violations: Violations, message: domain_pb2.GatePolicy, prefix: str = "policy"
) -> None:
    """Every problem with a draft policy, named by field."""
    check_stage(violations, f"{prefix}.stage", message.stage)
    for name in ("min_customers", "min_segments", "min_active"):
        _check_count(violations, f"{prefix}.{name}", getattr(message, name))
    if not math.isfinite(message.min_weight) or not 0 <= message.min_weight <= WEIGHT_MAX:
        violations.add(f"{prefix}.min_weight", f"must be within 0 and {WEIGHT_MAX:g}")
    _check_fraction(violations, f"{prefix}.max_share", message.max_share, "a share of the weight")
    if not 0 <= message.max_age_days <= MAX_AGE_DAYS_MAX:
        violations.add(
            f"{prefix}.max_age_days", f"must be within 0 (never stale) and {MAX_AGE_DAYS_MAX}"
        )
    seen = set()
    for index, requirement in enumerate(message.min_commitments):
        field = f"{prefix}.min_commitments[{index}]"
        if requirement.commitment == domain_pb2.COMMITMENT_UNSPECIFIED or (
            requirement.commitment not in domain_pb2.Commitment.values()
        ):
            violations.add(f"{field}.commitment", "must be BETA_TESTER, CO_DEVELOP or PREORDER")
        elif requirement.commitment in seen:
            violations.add(f"{field}.commitment", "appears twice")
        seen.add(requirement.commitment)
        if not 1 <= requirement.count <= COUNT_MAX:
            violations.add(f"{field}.count", f"must be within 1 and {COUNT_MAX}")
    if message.HasField("council_approval"):
        quorum = message.council_approval.quorum
        _check_fraction(violations, f"{prefix}.council_approval.quorum", quorum, "0 means 0.5")
        if message.council_approval.council_id:
            check_id(
                violations,
                f"{prefix}.council_approval.council_id",
                message.council_approval.council_id,
            )
    if message.weighting not in (
        domain_pb2.WEIGHTING_EQUAL,
        domain_pb2.WEIGHTING_ARR_LOG,
        domain_pb2.WEIGHTING_ARR_LINEAR,
    ):
        violations.add(f"{prefix}.weighting", "must be EQUAL, ARR_LOG or ARR_LINEAR")
    if message.HasField("relationship_factors"):
        for name in ("active", "prospect", "churned"):
            value = getattr(message.relationship_factors, name)
            if not math.isfinite(value) or not 0 <= value <= FACTOR_MAX:
                violations.add(
                    f"{prefix}.relationship_factors.{name}", f"must be within 0 and {FACTOR_MAX:g}"
                )
