"""The validation service's parts on one database, for tests that drive them directly.

The consumer's handler, the re-evaluator and the use cases, wired as `__main__` wires
them but with a clock the test moves, and idea events built as the ideas service
publishes them, with the dates a test chooses.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from quorum.domain.v1 import domain_pb2
from quorum.events.v1 import events_pb2
from quorum_common.events import new_event, timestamp
from quorum_common.mongo import ensure_indexes
from quorum_common.outbox import Outbox
from quorum_common.processed import Consumed
from quorum_common.unit_of_work import commit
from quorum_validation import directory, wiring
from quorum_validation.criteria import judge
from quorum_validation.evidence import CHUNK, EvidenceStore
from quorum_validation.gate import GateReport, evaluate
from quorum_validation.handler import IdeaEvents
from quorum_validation.judging import Judging
from quorum_validation.ledger import Entry, LedgerStore
from quorum_validation.messages import policy_of
from quorum_validation.policies import PolicyStore
from quorum_validation.reevaluation import Reevaluator
from quorum_validation.usecases import Gates

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.at = START

    def __call__(self) -> datetime:
        return self.at


@dataclass
class Validation:
    """The validation service's parts on one database, with the test's clock."""

    client: AsyncMongoClient[dict[str, Any]]
    database: AsyncDatabase[dict[str, Any]]
    clock: Clock
    ledger: LedgerStore
    evidence: EvidenceStore
    directory: directory.DirectoryStore
    policies: PolicyStore
    judging: Judging
    handler: IdeaEvents
    reevaluator: Reevaluator
    gates: Gates
    outbox: Outbox

    async def consume(self, events: Sequence[events_pb2.Event]) -> None:
        """One consumed batch, as the EventConsumer hands it over."""
        batch = [Consumed(e, {}) for e in events]
        await commit(self.client, self.outbox, lambda unit: self.handler.handle(unit, batch))

    async def organization(self, tenant: str, message: domain_pb2.Organization) -> None:
        await commit(
            self.client,
            None,
            lambda unit: self.directory.upsert_organization(unit.session, tenant, message),
        )

    async def policy(self, tenant: str, message: domain_pb2.GatePolicy) -> None:
        draft = policy_of(message, version=1)
        await commit(
            self.client, None, lambda unit: self.policies.update_policy(unit.session, tenant, draft)
        )

    async def verdicts(self, tenant: str, idea_id: str) -> tuple[Entry, GateReport, GateReport]:
        """The ledger's verdict (from its tally) and evaluate's over every record."""
        entry = await self.ledger.entry(tenant, idea_id)
        assert entry.tally is not None
        assert entry.next_stage
        pipeline = await self.policies.pipeline(tenant)
        policy = pipeline.policy_into(entry.next_stage)
        assert entry.tally.policy == policy
        full = await self.gates.full_evidence(entry, entry.next_stage)
        at = self.clock()
        plain = evaluate(policy, full, at)
        kept = judge(policy, entry.tally.standing(), full.councils, full.council_votes, at, tuple)
        return entry, kept, plain


async def validation_parts(
    client: AsyncMongoClient[dict[str, Any]],
    database: AsyncDatabase[dict[str, Any]],
    chunk: int = CHUNK,
) -> Validation:
    """`chunk`: records a rebuild counts per transaction (small: rebuilds take many)."""
    await ensure_indexes(database, wiring.INDEXES)
    clock = Clock()
    # Rows it owes stay in the outbox (no relay runs): a test reads them there.
    outbox = Outbox(database, "validation-events")
    parts = wiring.assemble(client, database, outbox, clock, chunk)
    return Validation(
        client=client,
        database=database,
        clock=clock,
        ledger=parts.ledger,
        evidence=parts.evidence,
        directory=parts.directory,
        policies=parts.policies,
        judging=parts.judging,
        handler=parts.handler,
        reevaluator=parts.reevaluator,
        gates=parts.gates,
        outbox=outbox,
    )


@contextlib.asynccontextmanager
async def parts_on(
    mongodb_uri: str, database: str, chunk: int = CHUNK
) -> AsyncIterator[Validation]:
    """The parts on a database of their own, with a client closed after the test."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb_uri, tz_aware=True)
    try:
        yield await validation_parts(client, client[database], chunk)
    finally:
        await client.close()


# --------------------------------------------------------------------------- events


def endorsement(
    oid: str, importance: int, commitments: Sequence[int], at: datetime
) -> domain_pb2.OrganizationEndorsement:
    return domain_pb2.OrganizationEndorsement(
        organization_id=oid,
        importance=importance,  # type: ignore[arg-type]
        commitments=list(commitments),  # type: ignore[arg-type]
        endorsed_at=timestamp(at),
        member_count=1,
    )


def submitted(tenant: str, idea_id: str, sponsor: str, at: datetime) -> events_pb2.Event:
    event = new_event(tenant_id=tenant, idea_id=idea_id, producer="ideas")
    payload = event.idea_submitted
    payload.title, payload.problem = "An idea", "A problem"
    payload.submitted_by.CopyFrom(domain_pb2.MemberRef(organization_id=sponsor, member_id="m"))
    payload.endorsement.CopyFrom(endorsement(sponsor, 2, (), at))
    payload.idea_version = 1
    return event


def endorsed(
    tenant: str, idea_id: str, e: domain_pb2.OrganizationEndorsement, version: int
) -> events_pb2.Event:
    event = new_event(tenant_id=tenant, idea_id=idea_id, producer="ideas")
    event.idea_endorsed.member.CopyFrom(
        domain_pb2.MemberRef(organization_id=e.organization_id, member_id="m")
    )
    event.idea_endorsed.organization_endorsement.CopyFrom(e)
    event.idea_endorsed.idea_version = version
    return event


def withdrawn(tenant: str, idea_id: str, oid: str, version: int) -> events_pb2.Event:
    event = new_event(tenant_id=tenant, idea_id=idea_id, producer="ideas")
    event.endorsement_withdrawn.organization_id = oid
    event.endorsement_withdrawn.idea_version = version
    return event


def merged(
    tenant: str,
    source: str,
    target: str,
    parts: list[list[domain_pb2.OrganizationEndorsement]],
    version: int,
) -> list[events_pb2.Event]:
    found = []
    for number, part in enumerate(parts, start=1):
        event = new_event(tenant_id=tenant, idea_id=target, producer="ideas")
        payload = event.ideas_merged
        payload.source_idea_id, payload.target_idea_id = source, target
        payload.target_endorsements.extend(part)
        payload.idea_version = version
        payload.part, payload.parts = number, len(parts)
        found.append(event)
    return found


def organization_message(
    oid: str, drawn: tuple[str, int, int, bool, str]
) -> domain_pb2.Organization:
    segment, arr, relationship, poor_fit, parent = drawn
    return domain_pb2.Organization(
        organization_id=oid,
        name=oid.upper(),
        segment=segment,
        arr=arr,
        relationship=relationship,  # type: ignore[arg-type]
        poor_fit=poor_fit,
        parent_id=parent if parent != oid else "",
    )
