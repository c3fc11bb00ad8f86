"""The gate's vocabulary: customers, endorsements, councils, policies and reports.

Plain immutable values with no behaviour beyond checking themselves, shared by the plain
evaluation (`gate.py`), the criteria (`criteria.py`) and the incremental tally
(`tally.py`). Import them from `gate`, which re-exports every name.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import cached_property
from types import MappingProxyType
from typing import ClassVar

# Declared once for every service; re-exported, as the rest of this vocabulary is.
from quorum_common.vocabulary import Importance as Importance


class Commitment(StrEnum):
    BETA_TESTER = "BETA_TESTER"
    CO_DEVELOP = "CO_DEVELOP"
    PREORDER = "PREORDER"


class Relationship(StrEnum):
    ACTIVE = "ACTIVE"
    PROSPECT = "PROSPECT"
    CHURNED = "CHURNED"


class Weighting(StrEnum):
    EQUAL = "EQUAL"
    ARR_LOG = "ARR_LOG"
    ARR_LINEAR = "ARR_LINEAR"


class ExclusionReason(StrEnum):
    """Why an endorsement does not count; values are stable strings for reports and APIs."""

    UNKNOWN_ORGANIZATION = "unknown_organization"
    POOR_FIT = "poor_fit"
    STALE = "stale"


DEFAULT_RELATIONSHIP_FACTORS: Mapping[Relationship, float] = MappingProxyType(
    {Relationship.ACTIVE: 1.0, Relationship.PROSPECT: 0.5, Relationship.CHURNED: 0.5}
)


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Organization:
    """A customer company of the tenant, as the validation directory knows it."""

    organization_id: str
    name: str
    segment: str
    arr: int  # annual revenue with the vendor, integer minor units
    relationship: Relationship = Relationship.ACTIVE
    poor_fit: bool = False
    parent_id: str | None = None

    def __post_init__(self) -> None:
        if not self.organization_id:
            raise ValueError("organization_id must not be empty")
        if self.arr < 0:
            raise ValueError(f"arr of {self.organization_id} must not be negative")
        # An empty parent (proto3 default) means "no parent", not "parent named ''".
        if self.parent_id == "":
            object.__setattr__(self, "parent_id", None)


@dataclass(frozen=True)
class Endorsement:
    """The one counted endorsement of an organization, already aggregated over its members."""

    organization_id: str
    importance: Importance
    commitments: frozenset[Commitment]
    endorsed_at: datetime

    def __post_init__(self) -> None:
        # Callers may hand in plain ints/sets; normalise so equality and hashing are stable.
        object.__setattr__(self, "importance", Importance(self.importance))
        object.__setattr__(self, "commitments", frozenset(Commitment(c) for c in self.commitments))


@dataclass(frozen=True)
class Council:
    """A named group of organizations that can be a required approver at a gate."""

    council_id: str
    name: str
    member_ids: frozenset[str]
    # The council's own quorum fraction (its charter); None: the policy's.
    quorum: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "member_ids", frozenset(self.member_ids))
        if self.quorum is not None and not 0.0 < self.quorum <= 1.0:
            raise ValueError(f"council quorum must be within (0, 1], got {self.quorum}")


@dataclass(frozen=True)
class CouncilRequirement:
    """council_id '' means every council of the tenant (none at all: not applicable)."""

    council_id: str = ""
    quorum: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 <= self.quorum <= 1.0:
            raise ValueError(f"council quorum must be within [0, 1], got {self.quorum}")


def _frozen_factors(factors: Mapping[Relationship, float]) -> Mapping[Relationship, float]:
    merged = dict(DEFAULT_RELATIONSHIP_FACTORS)
    merged.update({Relationship(k): float(v) for k, v in factors.items()})
    return MappingProxyType(merged)


@dataclass(frozen=True)
class GatePolicy:
    """What it takes to enter `stage`. Zero/None criteria are not configured.

    0 meaning "unset" matches protobuf defaults, so a policy read off the wire needs no
    sentinel translation.
    """

    stage: str
    version: int = 1
    min_customers: int = 0
    min_segments: int = 0
    min_active: int = 0
    min_weight: float | None = None
    max_share: float | None = None
    min_commitments: tuple[tuple[Commitment, int], ...] = ()
    council_approval: CouncilRequirement | None = None
    weighting: Weighting = Weighting.ARR_LINEAR
    # hash=False: a mapping is not hashable, but the policy must still compare by value.
    relationship_factors: Mapping[Relationship, float] = field(
        default_factory=lambda: DEFAULT_RELATIONSHIP_FACTORS, hash=False
    )
    affiliates_count_once: bool = False
    sponsor_excluded: bool = False
    max_age_days: int | None = None

    def __post_init__(self) -> None:
        if not self.stage:
            raise ValueError("policy stage must not be empty")
        if self.version < 1:
            raise ValueError(f"policy version must be >= 1, got {self.version}")
        for name in ("min_customers", "min_segments", "min_active"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.min_weight is not None and self.min_weight < 0:
            raise ValueError("min_weight must not be negative")
        if self.max_share is not None and not 0.0 <= self.max_share <= 1.0:
            raise ValueError(f"max_share must be within [0, 1], got {self.max_share}")
        if self.max_age_days is not None and self.max_age_days < 0:
            raise ValueError("max_age_days must not be negative")
        commitments = tuple((Commitment(c), int(k)) for c, k in self.min_commitments)
        seen = [c for c, _ in commitments]
        if len(set(seen)) != len(seen):
            raise ValueError("min_commitments names a commitment more than once")
        if any(k < 0 for _, k in commitments):
            raise ValueError("min_commitments counts must not be negative")
        object.__setattr__(self, "min_commitments", commitments)
        object.__setattr__(self, "weighting", Weighting(self.weighting))
        factors = _frozen_factors(self.relationship_factors)
        if any(f < 0 or math.isnan(f) for f in factors.values()):
            raise ValueError("relationship factors must be non-negative numbers")
        object.__setattr__(self, "relationship_factors", factors)

    def relationship_factor(self, relationship: Relationship) -> float:
        return self.relationship_factors[relationship]


@dataclass(frozen=True)
class Evidence:
    """Everything about one idea and its tenant that a gate looks at."""

    endorsements: tuple[Endorsement, ...]
    sponsor_organization_id: str | None = None
    organizations: Mapping[str, Organization] = field(
        default_factory=lambda: MappingProxyType({}), hash=False
    )
    councils: tuple[Council, ...] = ()
    # council_id -> {organization_id: approves?}
    council_votes: Mapping[str, Mapping[str, bool]] = field(
        default_factory=lambda: MappingProxyType({}), hash=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "endorsements", tuple(self.endorsements))
        for key, org in self.organizations.items():
            if key != org.organization_id:
                raise ValueError(f"directory key {key!r} != {org.organization_id!r}")
        # Copies, so a caller mutating its dicts afterwards cannot change a stored verdict.
        object.__setattr__(self, "organizations", MappingProxyType(dict(self.organizations)))
        object.__setattr__(self, "councils", tuple(self.councils))
        ids = [c.council_id for c in self.councils]
        if len(set(ids)) != len(ids):
            raise ValueError("council ids must be unique")
        object.__setattr__(
            self,
            "council_votes",
            MappingProxyType(
                {cid: MappingProxyType(dict(v)) for cid, v in self.council_votes.items()}
            ),
        )
        if self.sponsor_organization_id == "":
            object.__setattr__(self, "sponsor_organization_id", None)

    @classmethod
    def of(
        cls,
        endorsements: Iterable[Endorsement],
        organizations: Iterable[Organization],
        *,
        sponsor_organization_id: str | None = None,
        councils: Iterable[Council] = (),
        council_votes: Mapping[str, Mapping[str, bool]] | None = None,
    ) -> Evidence:
        """Convenience constructor taking the directory as a plain list of organizations."""
        return cls(
            endorsements=tuple(endorsements),
            sponsor_organization_id=sponsor_organization_id,
            organizations={o.organization_id: o for o in organizations},
            councils=tuple(councils),
            council_votes=council_votes or {},
        )


# --------------------------------------------------------------------------- outputs


@dataclass(frozen=True)
class Named:
    """An organization a report's sentence names; its id decides who may read the name."""

    organization_id: str
    name: str


# A report's sentence in parts: words, and the organizations it names kept apart from them,
# so that the sentence can be said again without a name its reader may not know.
Wording = tuple[str | Named, ...]


def said(wording: Wording) -> str:
    """The sentence with every name in it."""
    return "".join(part if isinstance(part, str) else part.name for part in wording)


def names_anyone(wording: Wording) -> bool:
    return any(isinstance(part, Named) for part in wording)


@dataclass(frozen=True)
class CriterionResult:
    name: str
    required: float
    actual: float
    met: bool
    subject: str = ""  # commitment name, council id, or dominant customer id
    wording: Wording = ()

    @property
    def detail(self) -> str:
        return said(self.wording)


@dataclass(frozen=True)
class OrganizationWeight:
    """Frozen snapshot of how one endorsing organization was counted."""

    organization_id: str
    organization_name: str
    customer_id: str
    segment: str
    relationship: Relationship | None  # None when the organization is unknown
    arr: int
    importance: Importance
    weight: float  # 0 when not eligible: it did not contribute
    share: float  # of the eligible total weight
    eligible: bool
    excluded_reason: ExclusionReason | None
    sponsor: bool


@dataclass(frozen=True, eq=False, repr=False)
class GateReport:
    """The verdict of one evaluation, why, and how each endorsing organization counted.

    `weights` is built on first read, by `_weights_of`: the verdict does not need it, it
    costs several times more than the verdict for an idea with thousands of endorsements,
    and the snapshot is only read when a verdict is shown or stored. A report of the
    incremental tally lists only the heaviest organizations and counts the rest in
    `weights_omitted`; one of `evaluate` lists every organization (0 omitted). Equality,
    hashing and repr treat `weights` as the ordinary field it used to be, in its old place.
    """

    stage: str
    policy_version: int
    holds: bool
    criteria: tuple[CriterionResult, ...]
    # The summary in parts: "needs 2 more customers; MegaCorp holds 90% of the weight, ...".
    summary_wording: Wording
    evaluated_at: datetime
    # Builds `weights` from immutable inputs, so building it later gives exactly what
    # building it during the evaluation would have.
    _weights_of: Callable[[], tuple[OrganizationWeight, ...]] = field(repr=False)
    weights_omitted: int = 0

    # The fields as callers know them, in their order, for __eq__, __hash__ and __repr__.
    _SHOWN: ClassVar[tuple[str, ...]] = (
        "stage",
        "policy_version",
        "holds",
        "criteria",
        "summary_wording",
        "weights_omitted",
        "weights",
        "evaluated_at",
    )

    @property
    def summary(self) -> str:
        return said(self.summary_wording)

    @cached_property
    def weights(self) -> tuple[OrganizationWeight, ...]:
        """Eligible organizations first, heaviest first, then by id."""
        return self._weights_of()

    @property
    def unmet(self) -> tuple[CriterionResult, ...]:
        return tuple(c for c in self.criteria if not c.met)

    @property
    def total_weight(self) -> float:
        """The eligible weight of the listed organizations (all of them when none is omitted)."""
        return math.fsum(w.weight for w in self.weights if w.eligible)

    def _shown(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self._SHOWN)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, GateReport) and other.__class__ is self.__class__:
            return self._shown() == other._shown()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._shown())

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._SHOWN)
        return f"{self.__class__.__qualname__}({shown})"
