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
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType

from quorum_common.errors import FailedPrecondition, PreconditionViolation, Violations
from quorum_validation.gate import Council, Endorsement, GateReport
from quorum_validation.pipeline import Pipeline
from quorum_validation.tally import IdeaTally


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


@dataclass(frozen=True)
class Vote:
    approve: bool
    comment: str
    at: datetime


@dataclass(frozen=True)
class Entry:
    """One idea's line in the ledger."""

    idea_id: str
    tenant_id: str
    stage: str
    status: Status
    sponsor_organization_id: str
    # Council votes by stage (the gate they are about), council, organization.
    council_votes: dict[str, dict[str, dict[str, Vote]]]
    gate: GateState | None
    version: int
    entered_stage_at: datetime
    merged_into: str = ""
    overridden: bool = False
    co_signed_by: tuple[str, ...] = ()
    # The stage after this one while the idea is open ("" otherwise), kept so that
    # progress needs no pipeline.
    next_stage: str = ""
    # Organizations with at least one endorsing member.
    organization_count: int = 0
    # Events up to this idea version were applied before evidence became per
    # organization (an upgraded entry): none of them applies again.
    version_floor: int = 0
    # The sponsor's chain of parents (what a directory change of theirs touches).
    sponsor_chain: tuple[str, ...] = ()
    # The gate into next_stage, kept up to date (None: no gate is judged).
    tally: IdeaTally | None = None
    # The ideas service's version of the idea whose events are all applied here: a
    # reader that saw version N waits for N (read-your-writes across the services).
    idea_version: int = 0

    def votes_for(self, stage: str) -> dict[str, dict[str, bool]]:
        return {
            council: {org: vote.approve for org, vote in votes.items()}
            for council, votes in self.council_votes.get(stage, {}).items()
        }

    @property
    def judged(self) -> bool:
        """Whether a gate is judged: the idea is open with a stage ahead."""
        return self.status is Status.OPEN and bool(self.next_stage)


def next_stage_of(pipeline: Pipeline, stage: str, status: Status) -> str:
    return (pipeline.next_stage(stage) or "") if status is Status.OPEN else ""


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


# --------------------------------------------------------------------------- decisions
# What a PDP tool's and an admin's calls do to an idea's entry, once the inputs are read:
# `usecases.py` reads them, decides here and commits the outcome in one unit of work.


def moved(entry: Entry, pipeline: Pipeline, stage: str, at: datetime) -> Entry:
    """The entry once it entered `stage` (an advance or an override)."""
    status = status_after_advance(pipeline, stage)
    return replace(
        entry,
        stage=stage,
        status=status,
        gate=None,
        entered_stage_at=at,
        next_stage=next_stage_of(pipeline, stage, status),
    )


def check_override(report: GateReport) -> None:
    if report.holds:
        raise FailedPrecondition(
            f"the gate into {report.stage} holds; advance the idea instead of overriding"
        )


def declined(entry: Entry) -> Entry:
    return replace(entry, status=Status.DECLINED, gate=None, next_stage="")


def voted_gate(entry: Entry, pipeline: Pipeline) -> str:
    """The stage whose gate a council votes on now, or FailedPrecondition saying why none."""
    check_open(entry.status, entry.idea_id)
    stage = pipeline.next_stage(entry.stage)
    if stage is None:
        raise FailedPrecondition(f"idea {entry.idea_id} is at the end of the pipeline")
    return stage


@dataclass(frozen=True)
class CouncilVotes:
    """A council's members' votes on the gate into `stage`, after one more vote."""

    stage: str
    approvals: int
    rejections: int


def voted(
    entry: Entry,
    stage: str,
    council: Council,
    organization_id: str,
    vote: Vote,
) -> tuple[Entry, CouncilVotes]:
    """The entry with a member organization's vote on the gate into `stage` (changeable
    until the idea moves), and how the council's members now vote."""
    if organization_id not in council.member_ids:
        raise FailedPrecondition(
            f"organization {organization_id} is not a member of council {council.council_id}"
        )
    votes = {
        s: {c: dict(v) for c, v in councils.items()} for s, councils in entry.council_votes.items()
    }
    votes.setdefault(stage, {}).setdefault(council.council_id, {})[organization_id] = vote
    members = [v for o, v in votes[stage][council.council_id].items() if o in council.member_ids]
    approvals = sum(1 for v in members if v.approve)
    counted = CouncilVotes(stage, approvals, len(members) - approvals)
    return replace(entry, council_votes=votes), counted


def co_signed(entry: Entry, council_id: str) -> Entry | None:
    """The entry co-signed by a council; None when it already is (twice changes nothing)."""
    if council_id in entry.co_signed_by:
        return None
    return replace(entry, co_signed_by=tuple(sorted({*entry.co_signed_by, council_id})))
