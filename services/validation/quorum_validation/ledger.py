"""The stage ledger: where each idea stands, the source of truth for stages.

Everything here runs inside one MongoDB transaction per change: the ledger entry,
the decision record and the events it owes (outbox) commit together or not at all.
The rules themselves live in `gate.py`, `pipeline.py` and `lifecycle.py`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, TypeVar

from pymongo import ASCENDING, AsyncMongoClient, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError

from quorum.domain.v1 import domain_pb2
from quorum.events.v1 import events_pb2
from quorum_common.consumer import PROCESSED, PROCESSED_INDEXES
from quorum_common.errors import Conflict, FailedPrecondition, NotFound
from quorum_common.events import PoisonEvent, new_event, now
from quorum_common.mongo import Document, ensure_indexes, in_transaction
from quorum_common.outbox import INDEXES as OUTBOX_INDEXES
from quorum_common.outbox import Outbox
from quorum_validation import directory as directory_module
from quorum_validation import lifecycle, policies
from quorum_validation.directory import Directory, DirectoryStore
from quorum_validation.gate import Council, Evidence, GateReport, evaluate
from quorum_validation.lifecycle import GateChange, GateState, IdeaEvidence, Status
from quorum_validation.messages import (
    endorsement_document,
    endorsement_from,
    endorsement_of,
    policy_document,
    report_document,
    report_message,
)
from quorum_validation.pipeline import Pipeline
from quorum_validation.policies import PolicyStore

log = logging.getLogger(__name__)
T = TypeVar("T")

LEDGER = "stage_ledger"
DECISIONS = "decisions"
PRODUCER = "validation"
_STATUS_NUMBER = {
    Status.OPEN: domain_pb2.IDEA_STATUS_OPEN,
    Status.MERGED: domain_pb2.IDEA_STATUS_MERGED,
    Status.DECLINED: domain_pb2.IDEA_STATUS_DECLINED,
    Status.LAUNCHED: domain_pb2.IDEA_STATUS_LAUNCHED,
}


def status_number(status: Status) -> int:
    return int(_STATUS_NUMBER[status])


@dataclass(frozen=True)
class Entry:
    """One idea's line in the ledger."""

    idea_id: str
    tenant_id: str
    stage: str
    status: Status
    evidence: IdeaEvidence
    # Council votes by stage (the gate they are about), council, organization.
    council_votes: dict[str, dict[str, dict[str, Vote]]]
    gate: GateState | None
    version: int
    entered_stage_at: datetime
    merged_into: str = ""
    overridden: bool = False
    co_signed_by: tuple[str, ...] = ()

    def votes_for(self, stage: str) -> dict[str, dict[str, bool]]:
        return {
            council: {org: vote.approve for org, vote in votes.items()}
            for council, votes in self.council_votes.get(stage, {}).items()
        }

    def organization_ids(self) -> set[str]:
        """The organizations a gate over this idea looks up: endorsers and sponsor."""
        ids = set(self.evidence.endorsements)
        if self.evidence.sponsor_organization_id:
            ids.add(self.evidence.sponsor_organization_id)
        return ids

    def gate_evidence(self, directory: Directory, stage: str) -> Evidence:
        """What the gate into `stage` judges."""
        return Evidence(
            endorsements=self.evidence.counted(),
            sponsor_organization_id=self.evidence.sponsor_organization_id,
            organizations=directory.organizations,
            councils=directory.councils,
            council_votes=self.votes_for(stage),
        )


@dataclass(frozen=True)
class Vote:
    approve: bool
    comment: str
    at: datetime


def _entry(doc: Document) -> Entry:
    votes: dict[str, dict[str, dict[str, Vote]]] = {}
    for vote in doc.get("council_votes", []):
        votes.setdefault(vote["stage"], {}).setdefault(vote["council_id"], {})[
            vote["organization_id"]
        ] = Vote(vote["approve"], vote.get("comment", ""), vote["at"])
    gate = doc.get("gate")
    return Entry(
        idea_id=doc["_id"],
        tenant_id=doc["tenant_id"],
        stage=doc["stage"],
        status=Status(doc["status"]),
        evidence=IdeaEvidence(
            sponsor_organization_id=doc["sponsor_organization_id"],
            endorsements={e["organization_id"]: endorsement_from(e) for e in doc["endorsements"]},
            idea_version=doc["idea_version"],
        ),
        council_votes=votes,
        gate=GateState(gate["stage"], gate["holds"]) if gate else None,
        version=doc["version"],
        entered_stage_at=doc["entered_stage_at"],
        merged_into=doc.get("merged_into", ""),
        overridden=doc.get("overridden", False),
        co_signed_by=tuple(doc.get("co_signed_by", [])),
    )


def _document(entry: Entry) -> Document:
    return {
        "_id": entry.idea_id,
        "tenant_id": entry.tenant_id,
        "stage": entry.stage,
        "status": entry.status.value,
        "sponsor_organization_id": entry.evidence.sponsor_organization_id,
        "endorsements": [endorsement_document(e) for e in entry.evidence.counted()],
        "idea_version": entry.evidence.idea_version,
        "council_votes": [
            {
                "stage": stage,
                "council_id": council,
                "organization_id": org,
                "approve": vote.approve,
                "comment": vote.comment,
                "at": vote.at,
            }
            for stage, councils in sorted(entry.council_votes.items())
            for council, votes in sorted(councils.items())
            for org, vote in sorted(votes.items())
        ],
        "overridden": entry.overridden,
        "co_signed_by": list(entry.co_signed_by),
        "gate": {"stage": entry.gate.stage, "holds": entry.gate.holds} if entry.gate else None,
        "version": entry.version,
        "entered_stage_at": entry.entered_stage_at,
        "merged_into": entry.merged_into,
    }


def _actor(message: domain_pb2.Actor) -> Document:
    return {
        "principal_id": message.principal_id,
        "role": message.role,
        "display_name": message.display_name,
    }


@dataclass(frozen=True)
class Advanced:
    entry: Entry
    from_stage: str
    report: GateReport


class Ledger:
    def __init__(
        self,
        client: AsyncMongoClient[Document],
        database: AsyncDatabase[Document],
        outbox: Outbox,
        topic: str,
        clock: Callable[[], datetime] = now,
    ) -> None:
        self._client = client
        self._database = database
        self._ledger = database[LEDGER]
        self._decisions = database[DECISIONS]
        self._outbox = outbox
        self._topic = topic
        self._clock = clock
        self.directory = DirectoryStore(database)
        self.policies = PolicyStore(database)

    async def create_indexes(self) -> None:
        await ensure_indexes(
            self._database,
            {
                LEDGER: [
                    IndexModel([("tenant_id", ASCENDING), ("status", ASCENDING)]),
                    IndexModel([("tenant_id", ASCENDING), ("stage", ASCENDING)]),
                ],
                DECISIONS: [IndexModel([("tenant_id", ASCENDING), ("idea_id", ASCENDING)])],
                PROCESSED: PROCESSED_INDEXES,
                "outbox": OUTBOX_INDEXES,
                **directory_module.INDEXES,
                **policies.INDEXES,
            },
        )

    async def transaction(self, work: Callable[[AsyncClientSession], Awaitable[T]]) -> T:
        """Run a directory or policy change in one transaction."""
        return await in_transaction(self._client, work)

    # --- reading ------------------------------------------------------------------

    async def entry(
        self, tenant_id: str, idea_id: str, session: AsyncClientSession | None = None
    ) -> Entry:
        doc = await self._ledger.find_one({"_id": idea_id, "tenant_id": tenant_id}, session=session)
        if doc is None:
            raise NotFound(f"idea {idea_id} is not in the stage ledger (yet)")
        return _entry(doc)

    async def gate_report(
        self, tenant_id: str, idea_id: str
    ) -> tuple[Entry, str, GateReport | None]:
        """The gate into the next stage, evaluated now (reads only)."""
        entry = await self.entry(tenant_id, idea_id)
        pipeline = await self.policies.pipeline(tenant_id)
        following = pipeline.next_stage(entry.stage) or ""
        if not following:
            return entry, "", None
        _, report = await self._evaluate(entry, pipeline, following)
        return entry, following, report

    async def _evaluate(
        self,
        entry: Entry,
        pipeline: Pipeline,
        stage: str,
        session: AsyncClientSession | None = None,
    ) -> tuple[Directory, GateReport]:
        """The gate into `stage` over the entry's evidence as of now, and what it read."""
        directory = await self.directory.load_for(
            entry.tenant_id, entry.organization_ids(), session
        )
        report = evaluate(
            pipeline.policy_into(stage), entry.gate_evidence(directory, stage), self._clock()
        )
        return directory, report

    # --- consuming idea events ------------------------------------------------------

    async def apply(self, session: AsyncClientSession, event: events_pb2.Event) -> None:
        """Apply one idea event (inside the consumer's transaction)."""
        kind = event.WhichOneof("payload")
        tenant_id, idea_id = event.envelope.tenant_id, event.envelope.idea_id
        if kind == "idea_submitted":
            await self._record_submitted(session, event)
            return
        if kind not in ("idea_endorsed", "endorsement_withdrawn", "ideas_merged"):
            return  # not evidence
        if kind == "ideas_merged":
            await self._record_merged_source(session, event)
        doc = await self._ledger.find_one({"_id": idea_id, "tenant_id": tenant_id}, session=session)
        if doc is None:
            # Events of one idea share a partition and arrive in order, so a missing
            # entry means its submission was dead-lettered: this one cannot apply.
            raise PoisonEvent(f"{kind} for idea {idea_id} which the ledger does not know")
        entry = _entry(doc)
        folded = self._fold(entry.evidence, event)
        if folded is None:
            return  # an older version of the evidence: a replay
        await self._judge_and_save(session, replace(entry, evidence=folded), entry.version, event)

    def _fold(self, evidence: IdeaEvidence, event: events_pb2.Event) -> IdeaEvidence | None:
        kind = event.WhichOneof("payload")
        if kind == "idea_endorsed":
            payload = event.idea_endorsed
            return lifecycle.endorsed(
                evidence, endorsement_of(payload.organization_endorsement), payload.idea_version
            )
        if kind == "endorsement_withdrawn":
            withdrawn = event.endorsement_withdrawn
            remaining = (
                endorsement_of(withdrawn.organization_endorsement)
                if withdrawn.HasField("organization_endorsement")
                else None
            )
            return lifecycle.withdrawn(
                evidence, withdrawn.organization_id, remaining, withdrawn.idea_version
            )
        merged = event.ideas_merged
        return lifecycle.merged(
            evidence,
            [endorsement_of(e) for e in merged.target_endorsements],
            merged.idea_version,
        )

    async def _record_submitted(self, session: AsyncClientSession, event: events_pb2.Event) -> None:
        envelope, submitted = event.envelope, event.idea_submitted
        if await self._ledger.find_one({"_id": envelope.idea_id}, session=session) is not None:
            return  # recorded already; a replay never moves an idea back to the start
        pipeline = await self.policies.pipeline(envelope.tenant_id, session)
        entry = Entry(
            idea_id=envelope.idea_id,
            tenant_id=envelope.tenant_id,
            stage=pipeline.first_stage,
            status=Status.OPEN,
            evidence=lifecycle.submitted(
                submitted.submitted_by.organization_id,
                endorsement_of(submitted.endorsement)
                if submitted.HasField("endorsement")
                else None,
                submitted.idea_version,
            ),
            council_votes={},
            gate=None,
            version=0,
            entered_stage_at=self._clock(),
        )
        entered = self._event(entry)
        entered.stage_advanced.to_stage = entry.stage
        entered.stage_advanced.status = status_number(Status.OPEN)  # type: ignore[assignment]
        await self._ledger.insert_one(_document(entry), session=session)
        await self._judge_and_save(session, entry, 0, None, [entered])

    async def _record_merged_source(
        self, session: AsyncClientSession, event: events_pb2.Event
    ) -> None:
        merged = event.ideas_merged
        await self._ledger.update_one(
            {"_id": merged.source_idea_id, "tenant_id": event.envelope.tenant_id},
            {
                "$set": {
                    "status": Status.MERGED.value,
                    "merged_into": merged.target_idea_id,
                    "gate": None,
                },
                "$inc": {"version": 1},
            },
            session=session,
        )

    # --- judging --------------------------------------------------------------------

    def _event(self, entry: Entry) -> events_pb2.Event:
        return new_event(
            tenant_id=entry.tenant_id, idea_id=entry.idea_id, producer=PRODUCER, at=self._clock()
        )

    async def _judge(
        self, session: AsyncClientSession, entry: Entry
    ) -> tuple[Entry, list[events_pb2.Event]]:
        """Evaluate the gate into the next stage; events only when it opens or closes."""
        if entry.status is not Status.OPEN:
            return replace(entry, gate=None), []
        pipeline = await self.policies.pipeline(entry.tenant_id, session)
        following = pipeline.next_stage(entry.stage)
        if following is None:
            return replace(entry, gate=None), []
        _, report = await self._evaluate(entry, pipeline, following, session)
        change = lifecycle.gate_change(entry.gate, following, report.holds)
        judged = replace(entry, gate=GateState(following, report.holds))
        if change is None:
            return judged, []
        event = self._event(entry)
        payload = event.gate_opened if change is GateChange.OPENED else event.gate_closed
        payload.stage = following
        payload.report.CopyFrom(report_message(report))
        return judged, [event]

    async def _judge_and_save(
        self,
        session: AsyncClientSession,
        entry: Entry,
        expected_version: int,
        cause: events_pb2.Event | None,
        events: list[events_pb2.Event] | None = None,
    ) -> Entry:
        judged, gate_events = await self._judge(session, entry)
        saved = replace(judged, version=expected_version + 1)
        result = await self._ledger.replace_one(
            {"_id": entry.idea_id, "version": expected_version}, _document(saved), session=session
        )
        if result.matched_count == 0:
            raise Conflict(f"idea {entry.idea_id} changed concurrently; read it again")
        await self._outbox.add(session, self._topic, [*(events or []), *gate_events])
        return saved

    # --- decisions --------------------------------------------------------------------

    async def _record_decision(
        self,
        session: AsyncClientSession,
        entry: Entry,
        kind: str,
        actor: domain_pb2.Actor,
        pipeline: Pipeline | None = None,
        to_stage: str = "",
        report: GateReport | None = None,
        reason: str = "",
        councils: tuple[Council, ...] = (),
    ) -> None:
        """Keep the decision with the policy version and a frozen snapshot of weights."""
        policy = pipeline.policy_into(to_stage) if pipeline and to_stage else None
        await self._decisions.insert_one(
            {
                "_id": str(uuid.uuid4()),
                "tenant_id": entry.tenant_id,
                "idea_id": entry.idea_id,
                "kind": kind,
                "from_stage": entry.stage,
                "to_stage": to_stage,
                "actor": _actor(actor),
                "reason": reason,
                "at": self._clock(),
                "policy": policy_document(policy) if policy else None,
                "report": report_document(report) if report else None,
                # The evidence as judged, so the verdict can be replayed exactly.
                "evidence": [endorsement_document(e) for e in entry.evidence.counted()],
                "sponsor_organization_id": entry.evidence.sponsor_organization_id,
                "votes": [
                    {"council_id": c, "organization_id": o, "approve": a}
                    for c, votes in sorted(entry.votes_for(to_stage).items())
                    for o, a in sorted(votes.items())
                ],
                "councils": [
                    {
                        "council_id": c.council_id,
                        "name": c.name,
                        "member_organization_ids": sorted(c.member_ids),
                        "quorum": c.quorum,
                    }
                    for c in (councils or ())
                ],
            },
            session=session,
        )

    def _check_version(self, entry: Entry, expected_version: int) -> None:
        if expected_version and expected_version != entry.version:
            raise Conflict(
                f"idea {entry.idea_id} is at version {entry.version}, not {expected_version}; "
                "read it again"
            )

    async def advance(
        self,
        tenant_id: str,
        idea_id: str,
        target: str,
        actor: domain_pb2.Actor,
        expected_version: int,
    ) -> Advanced:
        """Move to the next stage if its gate holds; record and publish either way."""

        async def work(
            session: AsyncClientSession,
        ) -> tuple[Advanced | None, FailedPrecondition | None]:
            entry = await self.entry(tenant_id, idea_id, session)
            self._check_version(entry, expected_version)
            pipeline = await self.policies.pipeline(tenant_id, session)
            following = lifecycle.check_advance(
                pipeline, entry.stage, entry.status, target, idea_id
            )
            directory, report = await self._evaluate(entry, pipeline, following, session)
            event = self._event(entry)
            if not report.holds:
                await self._record_decision(
                    session,
                    entry,
                    "REJECTED",
                    actor,
                    pipeline,
                    following,
                    report,
                    councils=directory.councils,
                )
                rejected = event.stage_advance_rejected
                rejected.from_stage, rejected.to_stage = entry.stage, following
                rejected.report.CopyFrom(report_message(report))
                rejected.actor.CopyFrom(actor)
                await self._outbox.add(session, self._topic, [event])
                refusal = lifecycle.refusal(report)
                refusal.details.append(report_message(report))
                return None, refusal
            await self._record_decision(
                session,
                entry,
                "ADVANCED",
                actor,
                pipeline,
                following,
                report,
                councils=directory.councils,
            )
            status = lifecycle.status_after_advance(pipeline, following)
            advanced = event.stage_advanced
            advanced.from_stage, advanced.to_stage = entry.stage, following
            advanced.report.CopyFrom(report_message(report))
            advanced.actor.CopyFrom(actor)
            advanced.status = status_number(status)  # type: ignore[assignment]
            moved = replace(
                entry, stage=following, status=status, gate=None, entered_stage_at=self._clock()
            )
            saved = await self._judge_and_save(session, moved, entry.version, None, [event])
            return Advanced(saved, entry.stage, report), None

        done, refused = await in_transaction(self._client, work)
        self._outbox.notify()
        if refused is not None:
            raise refused
        assert done is not None
        return done

    async def decline(
        self,
        tenant_id: str,
        idea_id: str,
        reason: str,
        actor: domain_pb2.Actor,
        expected_version: int,
    ) -> Entry:
        async def work(session: AsyncClientSession) -> Entry:
            entry = await self.entry(tenant_id, idea_id, session)
            self._check_version(entry, expected_version)
            lifecycle.check_open(entry.status, idea_id)
            await self._record_decision(session, entry, "DECLINED", actor, reason=reason)
            event = self._event(entry)
            event.idea_declined.stage = entry.stage
            event.idea_declined.reason = reason
            event.idea_declined.actor.CopyFrom(actor)
            declined = replace(entry, status=Status.DECLINED, gate=None)
            return await self._judge_and_save(session, declined, entry.version, None, [event])

        saved = await in_transaction(self._client, work)
        self._outbox.notify()
        return saved

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

        async def work(session: AsyncClientSession) -> tuple[str, int, int]:
            entry = await self.entry(tenant_id, idea_id, session)
            lifecycle.check_open(entry.status, idea_id)
            pipeline = await self.policies.pipeline(tenant_id, session)
            stage = pipeline.next_stage(entry.stage)
            if stage is None:
                raise FailedPrecondition(f"idea {idea_id} is at the end of the pipeline")
            council = await self.directory.council(tenant_id, council_id, session)
            if organization_id not in council.member_ids:
                raise FailedPrecondition(
                    f"organization {organization_id} is not a member of council {council_id}"
                )
            votes = {
                s: {c: dict(v) for c, v in councils.items()}
                for s, councils in entry.council_votes.items()
            }
            votes.setdefault(stage, {}).setdefault(council_id, {})[organization_id] = Vote(
                approve, comment, self._clock()
            )
            tally = votes[stage][council_id]
            approvals = sum(1 for o, v in tally.items() if v.approve and o in council.member_ids)
            rejections = sum(
                1 for o, v in tally.items() if not v.approve and o in council.member_ids
            )
            event = self._event(entry)
            cast = event.council_vote_cast
            cast.council_id, cast.organization_id, cast.stage = council_id, organization_id, stage
            cast.approve, cast.comment = approve, comment
            cast.approvals, cast.rejections = approvals, rejections
            await self._judge_and_save(
                session, replace(entry, council_votes=votes), entry.version, None, [event]
            )
            return stage, approvals, rejections

        tally = await in_transaction(self._client, work)
        self._outbox.notify()
        return tally

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

        async def work(session: AsyncClientSession) -> Advanced:
            entry = await self.entry(tenant_id, idea_id, session)
            self._check_version(entry, expected_version)
            pipeline = await self.policies.pipeline(tenant_id, session)
            following = lifecycle.check_advance(
                pipeline, entry.stage, entry.status, target, idea_id
            )
            directory, report = await self._evaluate(entry, pipeline, following, session)
            if report.holds:
                raise FailedPrecondition(
                    f"the gate into {following} holds; advance the idea instead of overriding"
                )
            await self._record_decision(
                session,
                entry,
                "OVERRIDDEN",
                actor,
                pipeline,
                following,
                report,
                justification,
                directory.councils,
            )
            status = lifecycle.status_after_advance(pipeline, following)
            advanced = self._event(entry)
            moved = advanced.stage_advanced
            moved.from_stage, moved.to_stage = entry.stage, following
            moved.report.CopyFrom(report_message(report))
            moved.actor.CopyFrom(actor)
            moved.status = status_number(status)  # type: ignore[assignment]
            moved.override_justification = justification
            overridden = self._event(entry)
            audit = overridden.stage_overridden
            audit.from_stage, audit.to_stage = entry.stage, following
            audit.report.CopyFrom(report_message(report))
            audit.justification = justification
            audit.actor.CopyFrom(actor)
            audit.status = status_number(status)  # type: ignore[assignment]
            audit.council_organization_ids.extend(
                sorted({m for c in directory.councils for m in c.member_ids})
            )
            after = replace(
                entry,
                stage=following,
                status=status,
                gate=None,
                entered_stage_at=self._clock(),
                overridden=True,
            )
            saved = await self._judge_and_save(
                session, after, entry.version, None, [advanced, overridden]
            )
            return Advanced(saved, entry.stage, report)

        done = await in_transaction(self._client, work)
        self._outbox.notify()
        return done

    async def co_sign(
        self, tenant_id: str, idea_id: str, council_id: str, actor: domain_pb2.Actor
    ) -> tuple[str, ...]:
        async def work(session: AsyncClientSession) -> tuple[str, ...]:
            entry = await self.entry(tenant_id, idea_id, session)
            council = await self.directory.council(tenant_id, council_id, session)
            if council_id in entry.co_signed_by:
                return entry.co_signed_by  # co-signing twice changes nothing
            event = self._event(entry)
            event.idea_co_signed.council_id = council_id
            event.idea_co_signed.council_name = council.name
            event.idea_co_signed.actor.CopyFrom(actor)
            signed = tuple(sorted({*entry.co_signed_by, council_id}))
            await self._judge_and_save(
                session, replace(entry, co_signed_by=signed), entry.version, None, [event]
            )
            return signed

        signed = await in_transaction(self._client, work)
        self._outbox.notify()
        return signed

    # --- re-evaluation after policy and directory changes -----------------------------

    async def reevaluate_tenant(self, tenant_id: str) -> int:
        """Judge every open idea of the tenant again; returns how many gates changed."""
        changed = 0
        ids = [
            doc["_id"]
            async for doc in self._ledger.find(
                {"tenant_id": tenant_id, "status": Status.OPEN.value}, projection={"_id": 1}
            )
        ]
        for idea_id in ids:

            async def work(session: AsyncClientSession, idea_id: str = idea_id) -> bool:
                entry = await self.entry(tenant_id, idea_id, session)
                judged, events = await self._judge(session, entry)
                if judged.gate == entry.gate:
                    return False  # same verdict: nothing to write, nothing to tell
                await self._judge_and_save(session, entry, entry.version, None)
                return bool(events)

            changed += await in_transaction(self._client, work)
        if changed:
            self._outbox.notify()
        return changed


class Reevaluator:
    """Re-judges a tenant's open ideas after its policies or directory change.

    Changes bump `tenants.changes` in their own transaction; this loop brings
    `reevaluated` up to it. Crash-safe: unfinished work is found again at start.
    """

    def __init__(self, ledger: Ledger, database: AsyncDatabase[Document]) -> None:
        self._ledger = ledger
        self._tenants = database[directory_module.TENANTS]
        self._wake = asyncio.Event()

    def notify(self) -> None:
        self._wake.set()

    async def run_once(self) -> int:
        changed = 0
        pending = self._tenants.find({"$expr": {"$gt": ["$changes", "$reevaluated"]}})
        async for tenant in pending:
            changed += await self._ledger.reevaluate_tenant(tenant["_id"])
            await self._tenants.update_one(
                {"_id": tenant["_id"]}, {"$max": {"reevaluated": tenant["changes"]}}
            )
        return changed

    async def run(self, sweep_seconds: float = 5.0) -> None:
        while True:
            self._wake.clear()
            try:
                await self.run_once()
            except PyMongoError as error:
                log.warning("re-evaluation failed, will retry: %s", error)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=sweep_seconds)


def progress(entry: Entry, pipeline: Pipeline) -> dict[str, Any]:
    following = pipeline.next_stage(entry.stage) if entry.status is Status.OPEN else None
    return {
        "stage": entry.stage,
        "status": status_number(entry.status),
        "next_stage": following or "",
        "next_gate_holds": bool(entry.gate and entry.gate.holds),
        "version": entry.version,
        "entered_stage_at": entry.entered_stage_at,
        "organization_count": len(entry.evidence.endorsements),
        "overridden": entry.overridden,
        "co_signed_by": list(entry.co_signed_by),
    }
