"""The ideas service's vocabulary: the values its rules are about, and nothing else.

The rules are in `domain.py` (which re-exports these names) and `backing.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum

# Declared once for every service; re-exported, as the rest of this vocabulary is.
from quorum_common.vocabulary import Importance as Importance


class Commitment(IntEnum):
    BETA_TESTER = 1
    CO_DEVELOP = 2
    PREORDER = 3


class Status(IntEnum):
    OPEN = 1
    MERGED = 2
    DECLINED = 3
    LAUNCHED = 4


@dataclass(frozen=True)
class Member:
    organization_id: str
    member_id: str
    job_function: int = 0


@dataclass(frozen=True)
class MemberEndorsement:
    """One member's endorsement; an organization may have several."""

    member: Member
    importance: Importance
    impact: str
    commitments: frozenset[Commitment]
    endorsed_at: datetime


@dataclass(frozen=True)
class OrganizationEndorsement:
    """What the organization counts as: once, at its members' highest importance."""

    organization_id: str
    importance: Importance
    commitments: frozenset[Commitment]
    endorsed_at: datetime
    member_count: int


@dataclass(frozen=True)
class Submission:
    title: str
    problem: str
    product_area: str
    tags: tuple[str, ...]
    source_channel: int
    submitted_by: Member
    importance: Importance
    impact: str
    commitments: frozenset[Commitment]


@dataclass(frozen=True)
class Idea:
    id: str
    tenant_id: str
    title: str
    problem: str
    product_area: str
    tags: tuple[str, ...]
    source_channel: int
    submitted_by: Member
    created_at: datetime
    updated_at: datetime
    status: Status = Status.OPEN
    stage: str = ""
    merged_into: str = ""
    version: int = 1
    # Distinct endorsing organizations, and endorsing members.
    organization_count: int = 0
    endorsement_count: int = 0
