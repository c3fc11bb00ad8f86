"""The consumer of idea events: a whole batch in one transaction, set-based.

For the records fetched together, whatever their number: one `$in` read each of ledger
entries, pipelines and evidence records (the directory and customers follow in
`judging.settle`), the events applied in memory in order, one bulk write per
collection, and GateOpened / GateClosed owed with the trace of the event that caused
them. An event applies to an organization only if its idea version is newer than the
one that organization's record last took (per organization: events of different
organizations may apply in any order); a withdrawal that leaves no member keeps a
tombstone with its version, so an older redelivered event cannot bring it back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime

from quorum.domain.v1 import domain_pb2
from quorum.events.v1 import events_pb2
from quorum_common.events import PoisonEvent, from_timestamp
from quorum_common.processed import Consumed
from quorum_common.unit_of_work import Unit
from quorum_validation.evidence import Record, record_key
from quorum_validation.gate import Endorsement, Importance
from quorum_validation.judging import Change, Judging, Work, idea_event
from quorum_validation.ledger import status_number
from quorum_validation.lifecycle import Entry, Status, applies, next_stage_of
from quorum_validation.messages import commitment_of
from quorum_validation.pipeline import Pipeline
from quorum_validation.stores import Stores
from quorum_validation.usecases import moment

# The idea events that are evidence; the consumer passes the others over.
KINDS = ("IdeaSubmitted", "IdeaEndorsed", "EndorsementWithdrawn", "IdeasMerged")

# (organization, its counted endorsement or None, its members, the idea version)
Fact = tuple[str, Endorsement | None, int, int]


def _counted(message: domain_pb2.OrganizationEndorsement) -> Endorsement:
    # MongoDB keeps milliseconds: judge what will be read back, or freshness could
    # count an endorsement that a later evaluation of the stored records does not.
    at = from_timestamp(message.endorsed_at)
    return Endorsement(
        organization_id=message.organization_id,
        importance=Importance(message.importance),
        commitments=frozenset(commitment_of(c) for c in message.commitments),
        endorsed_at=at.replace(microsecond=at.microsecond // 1000 * 1000),
    )


def facts(event: events_pb2.Event) -> list[Fact]:
    """What an idea event says of each organization's counted endorsement."""
    kind = event.WhichOneof("payload")
    if kind == "idea_submitted":
        submitted = event.idea_submitted
        if not submitted.HasField("endorsement"):
            return []
        e = submitted.endorsement
        return [(e.organization_id, _counted(e), e.member_count, submitted.idea_version)]
    if kind == "idea_endorsed":
        endorsed = event.idea_endorsed
        e = endorsed.organization_endorsement
        return [(e.organization_id, _counted(e), e.member_count, endorsed.idea_version)]
    if kind == "endorsement_withdrawn":
        withdrawn = event.endorsement_withdrawn
        oid, version = withdrawn.organization_id, withdrawn.idea_version
        if not withdrawn.HasField("organization_endorsement"):
            return [(oid, None, 0, version)]
        e = withdrawn.organization_endorsement
        return [(oid, _counted(e), e.member_count, version)]
    if kind == "ideas_merged":
        merged = event.ideas_merged
        # Per organization: a part lists the source's organizations (an event from before
        # merges came in parts lists all of the target's, which applies the same way).
        return [
            (e.organization_id, _counted(e), e.member_count, merged.idea_version)
            for e in merged.target_endorsements
        ]
    return []


def told_version(event: events_pb2.Event) -> int:
    """The idea version an event completes, once applied; 0 for a merge's earlier parts.

    A merge's parts share the target's version: only its last part completes it, so
    a reader waiting for that version never sees half a merge.
    """
    kind = event.WhichOneof("payload")
    if kind == "ideas_merged":
        merged = event.ideas_merged
        if merged.parts and merged.part < merged.parts:
            return 0
        return merged.idea_version
    if kind in ("idea_submitted", "idea_endorsed", "endorsement_withdrawn"):
        return int(getattr(event, kind).idea_version)
    return 0


class IdeaEvents:
    """`handle(unit, consumed)`: the EventConsumer's handler for idea events."""

    def __init__(
        self,
        stores: Stores,
        judging: Judging,
        clock: Callable[[], datetime] = moment,
    ) -> None:
        self._stores = stores
        self._judging = judging
        self._clock = clock

    async def handle(self, unit: Unit, consumed: Sequence[Consumed]) -> None:
        session, at = unit.session, self._clock()
        by_idea: dict[str, list[tuple[Consumed, list[Fact]]]] = {}
        sources: dict[str, tuple[str, str]] = {}  # merged away: source → (tenant, target)
        keys = []
        for item in consumed:
            envelope = item.event.envelope
            told = facts(item.event)
            by_idea.setdefault(envelope.idea_id, []).append((item, told))
            if item.event.WhichOneof("payload") == "ideas_merged":
                merged = item.event.ideas_merged
                sources[merged.source_idea_id] = (envelope.tenant_id, merged.target_idea_id)
            for oid, *_ in told:
                keys.append(record_key(envelope.tenant_id, envelope.idea_id, oid))
        entries = await self._stores.ledger.entries(session, [*by_idea, *sources])
        tenants = {item.event.envelope.tenant_id for item in consumed}
        pipelines = await self._stores.policies.pipelines(tenants, session)
        records = await self._stores.evidence.records(session, keys)

        works: dict[str, Work] = {}
        for idea_id, items in by_idea.items():
            tenant_id = items[0][0].event.envelope.tenant_id
            found = entries.get(idea_id)
            entry = found if found is not None and found.tenant_id == tenant_id else None
            work = self._apply(entry, pipelines[tenant_id], items, records, at)
            if work is not None:
                works[idea_id] = work
        for source, (tenant_id, target) in sources.items():
            self._merged_away(works, entries.get(source), tenant_id, target, pipelines)

        changed = list(works.values())
        await self._judging.settle(session, changed, at)
        for work in changed:
            read = entries.get(work.entry.idea_id)
            if read is None or not work.read_version == read.version == work.entry.version:
                continue  # new, or its version moved already (a merge's source)
            if (work.entry.gate, work.entry.status) != (read.gate, read.status):
                work.entry = replace(work.entry, version=read.version + 1)
        await self._stores.ledger.save(session, [(w.entry, w.read_version) for w in changed])
        for work in changed:
            for event, trace in work.events:
                unit.publish([event], trace=trace)

    def _apply(
        self,
        entry: Entry | None,
        pipeline: Pipeline,
        items: Sequence[tuple[Consumed, list[Fact]]],
        records: dict[str, Record],
        at: datetime,
    ) -> Work | None:
        """One idea's events in order; None when none of them changes anything."""
        work: Work | None = None
        endorsing = 0  # how many more organizations endorse than before
        for item, told in items:
            event = item.event
            kind = event.WhichOneof("payload")
            if kind == "idea_submitted":
                if entry is not None:
                    continue  # recorded already; a replay never moves an idea back to the start
                entry = self._submitted(event, pipeline, at)
                work = Work(entry, None, pipeline)
                entered = idea_event(entry, at)
                entered.stage_advanced.to_stage = entry.stage
                entered.stage_advanced.status = status_number(Status.OPEN)  # type: ignore[assignment]
                work.events.append((entered, item.trace))
            elif entry is None:
                # Events of one idea share a partition and arrive in order, so a missing
                # entry means its submission was dead-lettered: this one cannot apply.
                raise PoisonEvent(
                    f"{kind} for idea {event.envelope.idea_id} which the ledger does not know"
                )
            applied = False
            for fact in told:
                if work is None:
                    # The version is the stage's (a reader's expected_version for
                    # AdvanceStage): evidence alone does not move it, a verdict does.
                    work = Work(entry, entry.version, pipeline)
                change = self._fact(work, records, fact)
                if change is not None:
                    endorsing += change
                    applied = True
            if work is not None and (applied or kind == "idea_submitted"):
                work.cause = item.trace
        folded = max((told_version(item.event) for item, _ in items), default=0)
        if entry is not None and work is None and folded > entry.idea_version:
            work = Work(entry, entry.version, pipeline)
        if work is not None and folded > work.entry.idea_version:
            work.entry = replace(work.entry, idea_version=folded)
        elif work is None or (work.read_version is not None and not work.changes):
            return None  # replays only
        if endorsing:
            count = work.entry.organization_count + endorsing
            work.entry = replace(work.entry, organization_count=count)
        return work

    def _submitted(self, event: events_pb2.Event, pipeline: Pipeline, at: datetime) -> Entry:
        envelope = event.envelope
        return Entry(
            idea_id=envelope.idea_id,
            tenant_id=envelope.tenant_id,
            stage=pipeline.first_stage,
            status=Status.OPEN,
            sponsor_organization_id=event.idea_submitted.submitted_by.organization_id,
            council_votes={},
            gate=None,
            version=1,
            entered_stage_at=at,
            next_stage=next_stage_of(pipeline, pipeline.first_stage, Status.OPEN),
        )

    def _fact(self, work: Work, records: dict[str, Record], fact: Fact) -> int | None:
        """Apply one organization's counted endorsement if newer than its record's.

        None if it is not; otherwise how the number of endorsing organizations changes.
        """
        oid, endorsement, member_count, version = fact
        entry = work.entry
        change = work.changes.get(oid)
        current = (
            change.after
            if change is not None
            else records.get(record_key(entry.tenant_id, entry.idea_id, oid))
        )
        if not applies(version, current.version if current else 0, entry.version_floor):
            return None  # an older or equal version of this organization: a replay
        after = Record(oid, version, endorsement, member_count)
        if change is None:
            work.changes[oid] = Change(current, after)
        else:
            change.after = after
        was = current is not None and current.endorsement is not None
        return (endorsement is not None) - was

    def _merged_away(
        self,
        works: dict[str, Work],
        source: Entry | None,
        tenant_id: str,
        target: str,
        pipelines: dict[str, Pipeline],
    ) -> None:
        """The source of a merge points at its target for good; no gate is judged on it."""
        work = works.get(source.idea_id) if source is not None else None
        entry = work.entry if work is not None else source
        if entry is None or entry.tenant_id != tenant_id:
            return
        if entry.status is Status.MERGED and entry.merged_into == target:
            return
        merged = replace(entry, status=Status.MERGED, merged_into=target, gate=None, next_stage="")
        if work is None:
            assert source is not None
            work = works[source.idea_id] = Work(
                replace(merged, version=source.version + 1), source.version, pipelines[tenant_id]
            )
        else:
            work.entry = merged
