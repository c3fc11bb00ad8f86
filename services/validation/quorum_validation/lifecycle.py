"""An idea's way through the pipeline, pure: its evidence, stage moves, gate changes.

Evidence is kept per organization: an event applies to an organization only if it is
newer than what that organization last took (`applies`), so events of different
organizations may apply in any order (`handler.py`). `IdeaEvidence` and its folds are
the same rules over an idea as a whole, with one version for the idea: how the ledger
kept evidence before it became records of their own (the upgrade starts from entries
folded so, `migration.py`). The rest decides what a verdict means for the stage ledger.
No I/O, so replaying an idea's events through these functions gives the verdict that
was recorded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from types import MappingProxyType

from quorum_common.errors import FailedPrecondition, PreconditionViolation, Violations
from quorum_validation.gate import Endorsement, GateReport
from quorum_validation.pipeline import Pipeline


class Status(StrEnum):
    OPEN = "OPEN"
    MERGED = "MERGED"
    DECLINED = "DECLINED"
    LAUNCHED = "LAUNCHED"


@dataclass(frozen=True)
class IdeaEvidence:
    """What the validation service knows of an idea's endorsements.

    `idea_version` is the ideas service's version after the last applied event;
    an event carrying an older or equal version is a replay and changes nothing.
    """

    sponsor_organization_id: str
    endorsements: Mapping[str, Endorsement] = field(default_factory=dict, hash=False)
    idea_version: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "endorsements", MappingProxyType(dict(self.endorsements)))

    def counted(self) -> tuple[Endorsement, ...]:
        return tuple(self.endorsements[org] for org in sorted(self.endorsements))


def applies(version: int, applied: int, floor: int = 0) -> bool:
    """Whether an event of this idea version changes an organization's evidence.

    `applied`: the version its record last took (0: none); `floor`: the version an
    upgraded entry had reached before evidence was per organization.
    """
    return version > max(applied, floor)


def submitted(
    sponsor_organization_id: str, endorsement: Endorsement | None, idea_version: int
) -> IdeaEvidence:
    return IdeaEvidence(
        sponsor_organization_id=sponsor_organization_id,
        endorsements={endorsement.organization_id: endorsement} if endorsement else {},
        idea_version=idea_version,
    )


def endorsed(
    evidence: IdeaEvidence, endorsement: Endorsement, idea_version: int
) -> IdeaEvidence | None:
    """The evidence with an organization's new counted endorsement; None if stale."""
    if idea_version <= evidence.idea_version:
        return None
    return replace(
        evidence,
        endorsements={**evidence.endorsements, endorsement.organization_id: endorsement},
        idea_version=idea_version,
    )


def withdrawn(
    evidence: IdeaEvidence,
    organization_id: str,
    remaining: Endorsement | None,
    idea_version: int,
) -> IdeaEvidence | None:
    """After a member withdrew: the organization's remaining endorsement, if any."""
    if idea_version <= evidence.idea_version:
        return None
    endorsements = dict(evidence.endorsements)
    endorsements.pop(organization_id, None)
    if remaining is not None:
        endorsements[organization_id] = remaining
    return replace(evidence, endorsements=endorsements, idea_version=idea_version)


def merged(
    evidence: IdeaEvidence, target_endorsements: Iterable[Endorsement], idea_version: int
) -> IdeaEvidence | None:
    """The surviving idea's evidence after a merge: the ideas service's full count."""
    if idea_version <= evidence.idea_version:
        return None
    return replace(
        evidence,
        endorsements={e.organization_id: e for e in target_endorsements},
        idea_version=idea_version,
    )


class GateChange(StrEnum):
    OPENED = "OPENED"
    CLOSED = "CLOSED"


@dataclass(frozen=True)
class GateState:
    """The last verdict on the gate into `stage`."""

    stage: str
    holds: bool


def gate_change(previous: GateState | None, stage: str, holds: bool) -> GateChange | None:
    """Opened/closed are published only on transitions, never on every evaluation."""
    was_open = previous is not None and previous.stage == stage and previous.holds
    if holds and not was_open:
        return GateChange.OPENED
    if not holds and was_open:
        return GateChange.CLOSED
    return None


def check_open(status: Status, idea_id: str) -> None:
    if status is not Status.OPEN:
        raise FailedPrecondition(f"idea {idea_id} is {status.value}; only OPEN ideas move")


def check_advance(pipeline: Pipeline, stage: str, status: Status, target: str, idea_id: str) -> str:
    """The stage an advance may go to, or FailedPrecondition saying why not.

    A target that is no stage of the pipeline at all is a bad request (INVALID_ARGUMENT
    naming `target_stage`), whatever the idea's state: a misspelling, not a state.
    """
    if target not in pipeline.stages:
        violations = Violations()
        violations.add(
            "target_stage", f"must be a stage of the pipeline ({' → '.join(pipeline.stages)})"
        )
        violations.raise_if_any()
    check_open(status, idea_id)
    following = pipeline.next_stage(stage)
    if following is None:
        raise FailedPrecondition(f"idea {idea_id} is at {stage}, the end of the pipeline")
    if target != following:
        if pipeline.stages.index(target) <= pipeline.stages.index(stage):
            reason = f"{target} is not after {stage}"
        else:
            reason = f"skipping {following} is not allowed"
        raise FailedPrecondition(
            f"idea {idea_id} is at {stage}; it can only advance to {following}: {reason}"
        )
    return following


def status_after_advance(pipeline: Pipeline, target: str) -> Status:
    return Status.LAUNCHED if pipeline.next_stage(target) is None else Status.OPEN


def refusal(report: GateReport) -> FailedPrecondition:
    """A refused advance: the report's unmet criteria, and its one human sentence."""
    violations = [
        PreconditionViolation(
            type="GATE_CRITERION",
            subject=f"{c.name}:{c.subject}" if c.subject else c.name,
            description=f"requires {_number(c.required)}, has {_number(c.actual)}"
            + (f" ({c.detail})" if c.detail else ""),
        )
        for c in report.criteria
        if not c.met
    ]
    return FailedPrecondition(
        f"the gate into {report.stage} does not hold: {report.summary}", violations
    )


def _number(value: float) -> str:
    return f"{value:g}" if value != int(value) else str(int(value))
