"""What a PDP tool and the vendor's admins do to an idea's stage, one unit of work each.

Each use case reads the ledger entry, decides with the pure rules (`lifecycle`, `gate`),
records the decision, re-judges the next gate (`judging`) and commits the entry with the
events it owes (`unit_of_work.commit`, relayed from memory). An advance or an override
judges the full evidence with `gate.evaluate` (the plain statement of the rules) and
freezes it in the decision; that reads every record of the idea, which an advance may.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

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
from quorum_validation.decisions import Decisions
from quorum_validation.directory import DirectoryStore
from quorum_validation.evidence import EvidenceStore
from quorum_validation.gate import Evidence, GatePolicy, GateReport, evaluate
from quorum_validation.judging import Judging, Work, idea_event
from quorum_validation.ledger import Entry, LedgerStore, Vote, next_stage_of, status_number
from quorum_validation.lifecycle import Status
from quorum_validation.messages import report_message
from quorum_validation.pipeline import Pipeline
from quorum_validation.policies import PolicyStore


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


class Gates:
    """The gate use cases; reads go to the stores directly."""

    def __init__(
        self,
        client: AsyncMongoClient[Document],
        outbox: Outbox | None,
        ledger: LedgerStore,
        evidence: EvidenceStore,
        directory: DirectoryStore,
        policies: PolicyStore,
        decisions: Decisions,
        judging: Judging,
        clock: Callable[[], datetime] = moment,
    ) -> None:
        self._client = client
        self._outbox = outbox
        self._ledger = ledger
        self._evidence = evidence
        self._directory = directory
        self._policies = policies
        self._decisions = decisions
        self._judging = judging
        self._clock = clock

    # --- reading ------------------------------------------------------------------

    async def full_evidence(
        self, entry: Entry, stage: str, session: AsyncClientSession | None = None
    ) -> Evidence:
        """Everything the gate into `stage` looks at: every record, the directory now."""
        records = await self._evidence.idea_records(session, entry.tenant_id, entry.idea_id)
        ids = [r.organization_id for r in records]
        if entry.sponsor_organization_id:
            ids.append(entry.sponsor_organization_id)
        tenant = entry.tenant_id
        organizations = (await self._directory.organizations({tenant: ids}, session))[tenant]
        councils = (await self._directory.councils_of([tenant], session))[tenant]
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
        entry = await self._ledger.entry(tenant_id, idea_id)
        pipeline = await self._policies.pipeline(tenant_id)
        following = pipeline.next_stage(entry.stage) or ""
        if not following:
            return entry, "", None
        evidence = await self.full_evidence(entry, following)
        return entry, following, evaluate(pipeline.policy_into(following), evidence, self._clock())

    # --- changing -----------------------------------------------------------------

    async def _save(
        self,
        unit: Unit,
        entry: Entry,
        read: Entry,
        pipeline: Pipeline,
        at: datetime,
        events: Sequence[events_pb2.Event],
    ) -> Entry:
        """Re-judge the next gate, save the entry one version on, owe the events."""
        work = Work(replace(entry, version=read.version + 1), read.version, pipeline)
        await self._judging.settle(unit.session, [work], at)
        await self._ledger.save(unit.session, [(work.entry, read.version)])
        unit.publish([*events, *(event for event, _ in work.events)])
        return work.entry

    async def _read(self, unit: Unit, tenant_id: str, idea_id: str) -> tuple[Entry, Pipeline]:
        entry = await self._ledger.entry(tenant_id, idea_id, unit.session)
        return entry, await self._policies.pipeline(tenant_id, unit.session)

    def _check_version(self, entry: Entry, expected_version: int) -> None:
        if expected_version and expected_version != entry.version:
            raise Conflict(
                f"idea {entry.idea_id} is at version {entry.version}, not {expected_version}; "
                "read it again"
            )

    async def _judge_move(
        self, unit: Unit, tenant_id: str, idea_id: str, target: str, expected_version: int
    ) -> _Judged:
        """What an advance and an override both decide on: the gate into `target`."""
        at = self._clock()
        entry, pipeline = await self._read(unit, tenant_id, idea_id)
        self._check_version(entry, expected_version)
        following = lifecycle.check_advance(pipeline, entry.stage, entry.status, target, idea_id)
        policy = pipeline.policy_into(following)
        evidence = await self.full_evidence(entry, following, unit.session)
        report = evaluate(policy, evidence, at)
        return _Judged(at, entry, pipeline, following, policy, evidence, report)

    @staticmethod
    def _advanced_event(
        judged: _Judged, actor: domain_pb2.Actor, status: Status
    ) -> events_pb2.Event:
        """StageAdvanced, as an advance and an override both announce it."""
        event = idea_event(judged.entry, judged.at)
        advanced = event.stage_advanced
        advanced.from_stage, advanced.to_stage = judged.entry.stage, judged.following
        advanced.report.CopyFrom(report_message(judged.report))
        advanced.actor.CopyFrom(actor)
        advanced.status = status_number(status)  # type: ignore[assignment]
        return event

    async def advance(
        self,
        tenant_id: str,
        idea_id: str,
        target: str,
        actor: domain_pb2.Actor,
        expected_version: int,
    ) -> Advanced:
        """Move to the next stage if its gate holds; record and publish either way."""

        async def work(unit: Unit) -> tuple[Advanced | None, FailedPrecondition | None]:
            judged = await self._judge_move(unit, tenant_id, idea_id, target, expected_version)
            entry, report = judged.entry, judged.report
            verdict = "ADVANCED" if report.holds else "REJECTED"
            await self._decisions.record(
                unit.session,
                entry,
                verdict,
                actor,
                judged.at,
                judged.evidence,
                policy=judged.policy,
                report=report,
            )
            if not report.holds:
                event = idea_event(entry, judged.at)
                rejected = event.stage_advance_rejected
                rejected.from_stage, rejected.to_stage = entry.stage, judged.following
                rejected.report.CopyFrom(report_message(report))
                rejected.actor.CopyFrom(actor)
                unit.publish([event])
                refusal = lifecycle.refusal(report)
                refusal.details.append(report_message(report))
                return None, refusal
            status = lifecycle.status_after_advance(judged.pipeline, judged.following)
            event = self._advanced_event(judged, actor, status)
            moved = self._moved(entry, judged.pipeline, judged.following, status, judged.at)
            saved = await self._save(unit, moved, entry, judged.pipeline, judged.at, [event])
            return Advanced(saved, entry.stage, report), None

        done, refused = await commit(self._client, self._outbox, work)
        if refused is not None:
            raise refused
        assert done is not None
        return done

    def _moved(
        self, entry: Entry, pipeline: Pipeline, stage: str, status: Status, at: datetime
    ) -> Entry:
        return replace(
            entry,
            stage=stage,
            status=status,
            gate=None,
            entered_stage_at=at,
            next_stage=next_stage_of(pipeline, stage, status),
        )

    async def decline(
        self,
        tenant_id: str,
        idea_id: str,
        reason: str,
        actor: domain_pb2.Actor,
        expected_version: int,
    ) -> Entry:
        async def work(unit: Unit) -> Entry:
            at = self._clock()
            entry, pipeline = await self._read(unit, tenant_id, idea_id)
            self._check_version(entry, expected_version)
            lifecycle.check_open(entry.status, idea_id)
            records = await self._evidence.idea_records(unit.session, tenant_id, idea_id)
            evidence = Evidence(
                tuple(r.endorsement for r in records if r.endorsement is not None),
                entry.sponsor_organization_id,
            )
            await self._decisions.record(
                unit.session, entry, "DECLINED", actor, at, evidence, reason=reason
            )
            event = idea_event(entry, at)
            event.idea_declined.stage = entry.stage
            event.idea_declined.reason = reason
            event.idea_declined.actor.CopyFrom(actor)
            declined = replace(entry, status=Status.DECLINED, gate=None, next_stage="")
            return await self._save(unit, declined, entry, pipeline, at, [event])

        return await commit(self._client, self._outbox, work)

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

        async def work(unit: Unit) -> tuple[str, int, int]:
            at = self._clock()
            entry, pipeline = await self._read(unit, tenant_id, idea_id)
            lifecycle.check_open(entry.status, idea_id)
            stage = pipeline.next_stage(entry.stage)
            if stage is None:
                raise FailedPrecondition(f"idea {idea_id} is at the end of the pipeline")
            council = await self._directory.council(tenant_id, council_id, unit.session)
            if organization_id not in council.member_ids:
                raise FailedPrecondition(
                    f"organization {organization_id} is not a member of council {council_id}"
                )
            votes = {
                s: {c: dict(v) for c, v in councils.items()}
                for s, councils in entry.council_votes.items()
            }
            votes.setdefault(stage, {}).setdefault(council_id, {})[organization_id] = Vote(
                approve, comment, at
            )
            tally = votes[stage][council_id]
            approvals = sum(1 for o, v in tally.items() if v.approve and o in council.member_ids)
            rejections = sum(
                1 for o, v in tally.items() if not v.approve and o in council.member_ids
            )
            event = idea_event(entry, at)
            cast = event.council_vote_cast
            cast.council_id, cast.organization_id, cast.stage = council_id, organization_id, stage
            cast.approve, cast.comment = approve, comment
            cast.approvals, cast.rejections = approvals, rejections
            await self._save(
                unit, replace(entry, council_votes=votes), entry, pipeline, at, [event]
            )
            return stage, approvals, rejections

        return await commit(self._client, self._outbox, work)

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

        async def work(unit: Unit) -> Advanced:
            judged = await self._judge_move(unit, tenant_id, idea_id, target, expected_version)
            at, entry, pipeline = judged.at, judged.entry, judged.pipeline
            following, evidence, report = judged.following, judged.evidence, judged.report
            if report.holds:
                raise FailedPrecondition(
                    f"the gate into {following} holds; advance the idea instead of overriding"
                )
            await self._decisions.record(
                unit.session,
                entry,
                "OVERRIDDEN",
                actor,
                at,
                evidence,
                policy=judged.policy,
                report=report,
                reason=justification,
            )
            status = lifecycle.status_after_advance(pipeline, following)
            advanced = self._advanced_event(judged, actor, status)
            advanced.stage_advanced.override_justification = justification
            overridden = idea_event(entry, at)
            audit = overridden.stage_overridden
            audit.from_stage, audit.to_stage = entry.stage, following
            audit.report.CopyFrom(report_message(report))
            audit.justification = justification
            audit.actor.CopyFrom(actor)
            audit.status = status_number(status)  # type: ignore[assignment]
            audit.council_organization_ids.extend(
                sorted({m for c in evidence.councils for m in c.member_ids})
            )
            after = replace(self._moved(entry, pipeline, following, status, at), overridden=True)
            saved = await self._save(unit, after, entry, pipeline, at, [advanced, overridden])
            return Advanced(saved, entry.stage, report)

        return await commit(self._client, self._outbox, work)

    async def co_sign(
        self, tenant_id: str, idea_id: str, council_id: str, actor: domain_pb2.Actor
    ) -> tuple[str, ...]:
        async def work(unit: Unit) -> tuple[str, ...]:
            at = self._clock()
            entry, pipeline = await self._read(unit, tenant_id, idea_id)
            council = await self._directory.council(tenant_id, council_id, unit.session)
            if council_id in entry.co_signed_by:
                return entry.co_signed_by  # co-signing twice changes nothing
            event = idea_event(entry, at)
            event.idea_co_signed.council_id = council_id
            event.idea_co_signed.council_name = council.name
            event.idea_co_signed.actor.CopyFrom(actor)
            signed = tuple(sorted({*entry.co_signed_by, council_id}))
            await self._save(
                unit, replace(entry, co_signed_by=signed), entry, pipeline, at, [event]
            )
            return signed

        return await commit(self._client, self._outbox, work)
