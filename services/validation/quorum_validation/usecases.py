"""What a PDP tool and the vendor's admins do to an idea's stage, one unit of work each.

Every change goes one way, `Gates._change`: it reads the ledger entry, hands it to the use
case's decision (the pure rules of `lifecycle` and `gate`, fed with what the use case
reads), keeps the decision record, re-judges the next gate (`judging`) and commits the
entry with the events it owes (`unit_of_work.commit`, retried whole, relayed from memory).
An advance or an override judges the full evidence with `gate.evaluate` and freezes it in
the decision; that reads every record of the idea, which an advance may."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Generic, TypeVar

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession

from quorum.domain.v1 import domain_pb2
from quorum.events.v1 import events_pb2
from quorum_common.errors import Conflict, FailedPrecondition
from quorum_common.events import now
from quorum_common.mongo import Document
from quorum_common.outbox import Outbox
from quorum_common.unit_of_work import Unit, commit
from quorum_validation import lifecycle
from quorum_validation.gate import Evidence, GatePolicy, GateReport, evaluate
from quorum_validation.judging import Judging, Work, idea_event
from quorum_validation.ledger import status_number
from quorum_validation.lifecycle import CouncilVotes, Entry, Status, Vote
from quorum_validation.messages import report_message
from quorum_validation.pipeline import Pipeline
from quorum_validation.stores import Stores


def moment() -> datetime:
    """Now, to the millisecond MongoDB keeps: what is judged is what is stored."""
    at = now()
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


@dataclass(frozen=True)
class Advanced:
    entry: Entry
    from_stage: str
    report: GateReport


@dataclass(frozen=True)
class _Judged:
    """An idea's gate into the stage it is asked to enter, judged inside the unit of work."""

    at: datetime
    entry: Entry
    pipeline: Pipeline
    following: str
    policy: GatePolicy
    evidence: Evidence
    report: GateReport


T = TypeVar("T")


@dataclass(frozen=True)
class Kept:
    """A decision to keep for good (`decisions.py`): what was decided, by whom, on what."""

    kind: str  # ADVANCED, REJECTED, OVERRIDDEN, DECLINED
    actor: domain_pb2.Actor
    evidence: Evidence
    policy: GatePolicy | None = None
    report: GateReport | None = None
    reason: str = ""


@dataclass(frozen=True)
class Decided(Generic[T]):
    """What a use case decided about one idea, for `Gates._change` to commit."""

    answer: T
    # The entry after the decision (None: it stays as it is).
    entry: Entry | None = None
    events: tuple[events_pb2.Event, ...] = ()
    record: Kept | None = None
    # Raised to the caller once the rest (a rejected advance's record and event) commits.
    refusal: FailedPrecondition | None = None


# A use case's decision about the entry it is handed (read in the unit of work, with the
# tenant's pipeline and the moment it is decided at); it reads in the unit what else it
# needs and writes nothing itself.
Decide = Callable[[Unit, Entry, Pipeline, datetime], Awaitable[Decided[T]]]


class Gates:
    """The gate use cases; reads go to the stores directly."""

    def __init__(
        self,
        client: AsyncMongoClient[Document],
        outbox: Outbox | None,
        stores: Stores,
        judging: Judging,
        clock: Callable[[], datetime] = moment,
    ) -> None:
        self._client = client
        self._outbox = outbox
        self._stores = stores
        self._judging = judging
        self._clock = clock

    # --- reading ------------------------------------------------------------------

    async def full_evidence(
        self, entry: Entry, stage: str, session: AsyncClientSession | None = None
    ) -> Evidence:
        """Everything the gate into `stage` looks at: every record, the directory now."""
        records = await self._stores.evidence.idea_records(session, entry.tenant_id, entry.idea_id)
        ids = [r.organization_id for r in records]
        if entry.sponsor_organization_id:
            ids.append(entry.sponsor_organization_id)
        tenant = entry.tenant_id
        organizations = (await self._stores.directory.organizations({tenant: ids}, session))[tenant]
        councils = (await self._stores.directory.councils_of([tenant], session))[tenant]
        return Evidence(
            endorsements=tuple(r.endorsement for r in records if r.endorsement is not None),
            sponsor_organization_id=entry.sponsor_organization_id,
            organizations=organizations,
            councils=councils,
            council_votes=entry.votes_for(stage),
        )

    async def gate_report(
        self, tenant_id: str, idea_id: str
    ) -> tuple[Entry, str, GateReport | None]:
        """The gate into the next stage, evaluated now over the full evidence (reads only)."""
        entry = await self._stores.ledger.entry(tenant_id, idea_id)
        pipeline = await self._stores.policies.pipeline(tenant_id)
        following = pipeline.next_stage(entry.stage) or ""
        if not following:
            return entry, "", None
        evidence = await self.full_evidence(entry, following)
        return entry, following, evaluate(pipeline.policy_into(following), evidence, self._clock())

    # --- changing -----------------------------------------------------------------

    async def _change(self, tenant_id: str, idea_id: str, decide: Decide[T]) -> tuple[T, Entry]:
        """The one way an idea's entry changes: read it, let `decide` say what becomes of it
        (with the pure rules of `lifecycle`), keep the decision, re-judge the next gate and
        save the entry one version on with the events it owes; one unit of work, retried
        whole. The answer and the entry as saved (as read when `decide` left it alone);
        a refusal is raised once the rest is committed."""

        async def work(unit: Unit) -> tuple[Decided[T], Entry]:
            at = self._clock()
            read = await self._stores.ledger.entry(tenant_id, idea_id, unit.session)
            pipeline = await self._stores.policies.pipeline(tenant_id, unit.session)
            decided = await decide(unit, read, pipeline, at)
            if decided.record is not None:
                kept = decided.record
                await self._stores.decisions.record(
                    unit.session,
                    read,
                    kept.kind,
                    kept.actor,
                    at,
                    kept.evidence,
                    policy=kept.policy,
                    report=kept.report,
                    reason=kept.reason,
                )
            if decided.entry is None:
                unit.publish(decided.events)
                return decided, read
            change = Work(replace(decided.entry, version=read.version + 1), read.version, pipeline)
            await self._judging.settle(unit.session, [change], at)
            await self._stores.ledger.save(unit.session, [(change.entry, read.version)])
            unit.publish([*decided.events, *(event for event, _ in change.events)])
            return decided, change.entry

        decided, entry = await commit(self._client, self._outbox, work)
        if decided.refusal is not None:
            raise decided.refusal
        return decided.answer, entry

    def _move(
        self, target: str, expected_version: int, decide: Callable[[_Judged], Decided[T]]
    ) -> Decide[T]:
        """What an advance and an override both decide on: the gate into `target`, judged
        over the full evidence; `decide` says what follows from it."""

        async def judge(unit: Unit, entry: Entry, pipeline: Pipeline, at: datetime) -> Decided[T]:
            _check_version(entry, expected_version)
            following = lifecycle.check_advance(
                pipeline, entry.stage, entry.status, target, entry.idea_id
            )
            policy = pipeline.policy_into(following)
            evidence = await self.full_evidence(entry, following, unit.session)
            report = evaluate(policy, evidence, at)
            return decide(_Judged(at, entry, pipeline, following, policy, evidence, report))

        return judge

    async def advance(
        self,
        tenant_id: str,
        idea_id: str,
        target: str,
        actor: domain_pb2.Actor,
        expected_version: int,
    ) -> Advanced:
        """Move to the next stage if its gate holds; record and publish either way."""

        def decide(judged: _Judged) -> Decided[tuple[str, GateReport]]:
            at, entry, pipeline, report = judged.at, judged.entry, judged.pipeline, judged.report
            moved = (entry.stage, report)
            verdict = "ADVANCED" if report.holds else "REJECTED"
            record = Kept(verdict, actor, judged.evidence, judged.policy, report)
            if not report.holds:
                event = idea_event(entry, at)
                rejected = event.stage_advance_rejected
                rejected.from_stage, rejected.to_stage = entry.stage, judged.following
                rejected.report.CopyFrom(report_message(report))
                rejected.actor.CopyFrom(actor)
                refusal = lifecycle.refusal(report)
                refusal.details.append(report_message(report))
                return Decided(moved, record=record, events=(event,), refusal=refusal)
            after = lifecycle.moved(entry, pipeline, judged.following, at)
            return Decided(
                moved, after, (_advanced_event(judged, actor, after.status),), record=record
            )

        moving = self._move(target, expected_version, decide)
        (from_stage, report), saved = await self._change(tenant_id, idea_id, moving)
        return Advanced(saved, from_stage, report)

    async def decline(
        self,
        tenant_id: str,
        idea_id: str,
        reason: str,
        actor: domain_pb2.Actor,
        expected_version: int,
    ) -> Entry:
        async def decide(
            unit: Unit, entry: Entry, pipeline: Pipeline, at: datetime
        ) -> Decided[None]:
            _check_version(entry, expected_version)
            lifecycle.check_open(entry.status, idea_id)
            records = await self._stores.evidence.idea_records(unit.session, tenant_id, idea_id)
            evidence = Evidence(
                tuple(r.endorsement for r in records if r.endorsement is not None),
                entry.sponsor_organization_id,
            )
            event = idea_event(entry, at)
            event.idea_declined.stage = entry.stage
            event.idea_declined.reason = reason
            event.idea_declined.actor.CopyFrom(actor)
            record = Kept("DECLINED", actor, evidence, reason=reason)
            return Decided(None, lifecycle.declined(entry), (event,), record=record)

        return (await self._change(tenant_id, idea_id, decide))[1]

    async def cast_vote(
        self,
        tenant_id: str,
        idea_id: str,
        council_id: str,
        organization_id: str,
        approve: bool,
        comment: str = "",
    ) -> tuple[str, int, int]:
        """A member organization's vote on the idea's next gate; changeable until it moves."""

        async def decide(
            unit: Unit, entry: Entry, pipeline: Pipeline, at: datetime
        ) -> Decided[CouncilVotes]:
            stage = lifecycle.voted_gate(entry, pipeline)
            council = await self._stores.directory.council(tenant_id, council_id, unit.session)
            vote = Vote(approve, comment, at)
            after, votes = lifecycle.voted(entry, stage, council, organization_id, vote)
            event = idea_event(entry, at)
            cast = event.council_vote_cast
            cast.council_id, cast.organization_id, cast.stage = council_id, organization_id, stage
            cast.approve, cast.comment = approve, comment
            cast.approvals, cast.rejections = votes.approvals, votes.rejections
            return Decided(votes, after, (event,))

        votes, _ = await self._change(tenant_id, idea_id, decide)
        return votes.stage, votes.approvals, votes.rejections

    async def override(
        self,
        tenant_id: str,
        idea_id: str,
        target: str,
        justification: str,
        actor: domain_pb2.Actor,
        expected_version: int,
    ) -> Advanced:
        """Move past a gate that does not hold: recorded for good, announced to all."""

        def decide(judged: _Judged) -> Decided[tuple[str, GateReport]]:
            at, entry, pipeline = judged.at, judged.entry, judged.pipeline
            evidence, report = judged.evidence, judged.report
            lifecycle.check_override(report)
            after = replace(lifecycle.moved(entry, pipeline, judged.following, at), overridden=True)
            advanced = _advanced_event(judged, actor, after.status)
            advanced.stage_advanced.override_justification = justification
            overridden = idea_event(entry, at)
            audit = overridden.stage_overridden
            audit.from_stage, audit.to_stage = entry.stage, judged.following
            audit.report.CopyFrom(report_message(report))
            audit.justification = justification
            audit.actor.CopyFrom(actor)
            audit.status = status_number(after.status)  # type: ignore[assignment]
            audit.council_organization_ids.extend(
                sorted({m for c in evidence.councils for m in c.member_ids})
            )
            record = Kept("OVERRIDDEN", actor, evidence, judged.policy, report, justification)
            return Decided((entry.stage, report), after, (advanced, overridden), record=record)

        moving = self._move(target, expected_version, decide)
        (from_stage, report), saved = await self._change(tenant_id, idea_id, moving)
        return Advanced(saved, from_stage, report)

    async def co_sign(
        self, tenant_id: str, idea_id: str, council_id: str, actor: domain_pb2.Actor
    ) -> tuple[str, ...]:
        async def decide(
            unit: Unit, entry: Entry, pipeline: Pipeline, at: datetime
        ) -> Decided[None]:
            council = await self._stores.directory.council(tenant_id, council_id, unit.session)
            after = lifecycle.co_signed(entry, council_id)
            if after is None:
                return Decided(None)
            event = idea_event(entry, at)
            event.idea_co_signed.council_id = council_id
            event.idea_co_signed.council_name = council.name
            event.idea_co_signed.actor.CopyFrom(actor)
            return Decided(None, after, (event,))

        return (await self._change(tenant_id, idea_id, decide))[1].co_signed_by


def _check_version(entry: Entry, expected_version: int) -> None:
    if expected_version and expected_version != entry.version:
        raise Conflict(
            f"idea {entry.idea_id} is at version {entry.version}, not {expected_version}; "
            "read it again"
        )


def _advanced_event(judged: _Judged, actor: domain_pb2.Actor, status: Status) -> events_pb2.Event:
    """StageAdvanced, as an advance and an override both announce it."""
    event = idea_event(judged.entry, judged.at)
    advanced = event.stage_advanced
    advanced.from_stage, advanced.to_stage = judged.entry.stage, judged.following
    advanced.report.CopyFrom(report_message(judged.report))
    advanced.actor.CopyFrom(actor)
    advanced.status = status_number(status)  # type: ignore[assignment]
    return event
