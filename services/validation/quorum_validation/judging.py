"""Judging ideas' next gates from their tallies, set-based, inside one transaction.

`Judging.settle(session, works, at)` takes the ideas a transaction changes (a consumed
batch, an API call, a re-evaluation) with the organizations whose evidence changed,
and brings everything to the moment `at`:

1. the gate each idea is judged on: a tally kept for a policy that counts every
   organization alike serves as it is (a stage move, a new threshold); otherwise a new
   generation of the tally starts empty, and up to a chunk of records not yet counted
   in it join the transaction's changes (a new idea, a new weighting, an upgrade:
   a popular idea takes several transactions, driven by the re-evaluator);
2. reads the directory entries of the changed organizations (one `$in` per level of
   their corporate trees) and judges each under its idea's gate (`tally.contribution`);
3. expires counted endorsements the freshness cutoff has passed (an indexed look-up,
   only when the oldest counted one is older than the cutoff);
4. reads the customers touched (one `$in`), recounts (`tally.Recount`), writes the
   records (one bulk write), settles what the recount asks for (heaviest members, the
   heaviest customer: indexed look-ups, rare) and writes the customers (one bulk write);
5. judges each idea whose tally is complete (`criteria.judge` over its standing), and
   says GateOpened or GateClosed only when the verdict changes; those events list the
   heaviest organizations, read from the report-order index.

The caller saves the entries and publishes the events. Nothing here reads or writes
data that grows with an idea: a rebuild goes a chunk at a time.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from pymongo.asynchronous.client_session import AsyncClientSession

from quorum.events.v1 import events_pb2
from quorum_common.events import new_event
from quorum_common.mongo import Document
from quorum_validation.criteria import judge
from quorum_validation.directory import DirectoryStore
from quorum_validation.evidence import (
    EvidenceStore,
    Record,
    customer_document,
    customer_key,
    record_document,
    record_key,
    report_weights,
)
from quorum_validation.gate import (
    Council,
    ExclusionReason,
    GatePolicy,
    GateReport,
    Organization,
    chain_of,
    customer_id_of,
    stale_before,
)
from quorum_validation.lifecycle import Entry, GateChange, GateState, gate_change
from quorum_validation.messages import LISTED, report_message
from quorum_validation.pipeline import Pipeline
from quorum_validation.tally import (
    Contribution,
    Customer,
    IdeaTally,
    Member,
    Recount,
    contribution,
    counts_alike,
)

PRODUCER = "validation"
Trace = Mapping[str, str]


@dataclass
class Change:
    """One organization's evidence changed by events; settle judges `after`."""

    before: Record | None
    after: Record


@dataclass
class Work:
    """One idea changed in a transaction, on its way to being saved."""

    entry: Entry
    # The version the entry was read at (None: created in this transaction).
    read_version: int | None
    pipeline: Pipeline
    changes: dict[str, Change] = field(default_factory=dict)  # by organization id
    # The trace context the gate events continue (None: the current span's).
    cause: Trace | None = None
    events: list[tuple[events_pb2.Event, Trace | None]] = field(default_factory=list)
    # The verdict on the next gate after settle (None: not judged).
    report: GateReport | None = None
    # The sponsor's directory entry or its parents' changed: its customer is read again.
    sponsor_changed: bool = False

    @property
    def policy(self) -> GatePolicy | None:
        entry = self.entry
        return self.pipeline.policy_into(entry.next_stage) if entry.judged else None


@dataclass
class _Progress:
    """What settle works out for one idea on the way."""

    work: Work
    # The tally changes fold into (None: no gate is judged).
    tally: IdeaTally | None
    new_generation: bool = False
    # The last records a rebuild had to count are in this transaction.
    completes: bool = False
    moves: list[tuple[Member | None, Member | None]] = field(default_factory=list)
    expired: list[Record] = field(default_factory=list)
    expiry_checked: bool = False
    recount: Recount | None = None

    @property
    def idea(self) -> tuple[str, str]:
        return self.work.entry.tenant_id, self.work.entry.idea_id


def idea_event(entry: Entry, at: datetime) -> events_pb2.Event:
    return new_event(tenant_id=entry.tenant_id, idea_id=entry.idea_id, producer=PRODUCER, at=at)


def _plain(record: Record) -> Record:
    """The record's evidence, to be judged again."""
    return Record(record.organization_id, record.version, record.endorsement, record.member_count)


class Judging:
    def __init__(
        self,
        directory: DirectoryStore,
        evidence: EvidenceStore,
        on_unfinished: Callable[[], None] | None = None,
    ) -> None:
        self._directory = directory
        self._evidence = evidence
        # Told (inside the transaction) when a rebuild or a clean-up is left unfinished.
        self.on_unfinished = on_unfinished

    async def settle(
        self, session: AsyncClientSession, works: Sequence[Work], at: datetime
    ) -> None:
        ideas = [self._start(work) for work in works]
        wanted: dict[str, set[str]] = {}
        for idea in ideas:
            await self._chunk(session, idea)
            entry = idea.work.entry
            ids = wanted.setdefault(entry.tenant_id, set())
            ids.update(idea.work.changes)
            if (idea.new_generation or idea.work.sponsor_changed) and entry.sponsor_organization_id:
                ids.add(entry.sponsor_organization_id)
        wanted = {t: ids for t, ids in wanted.items() if ids}
        directory = await self._directory.organizations(wanted, session) if wanted else {}
        for idea in ideas:
            organizations = directory.get(idea.idea[0], {})
            if idea.new_generation:
                self._sponsor_of(idea, organizations)
            self._judge_changes(idea, organizations, at)
            await self._expire(session, idea, at)
        await self._recount(session, ideas)
        for idea in ideas:
            if idea.work.sponsor_changed and not idea.new_generation:
                await self._sponsor(session, idea, directory.get(idea.idea[0], {}))
            await self._clean_up(session, idea)
        await self._judge(session, ideas, at)
        unfinished = any(
            (tally := idea.work.entry.tally) is not None and (tally.pending or tally.leftovers)
            for idea in ideas
        )
        if unfinished and self.on_unfinished is not None:
            self.on_unfinished()

    # --- 1: the gate judged, and a chunk of a rebuild --------------------------------

    def _start(self, work: Work) -> _Progress:
        policy, tally = work.policy, work.entry.tally
        if policy is None:
            if tally is None or (tally.leftovers and not tally.customers):
                return _Progress(work, None)  # nothing, or only customers still to delete
            # No gate is judged any more (declined, launched, merged): its customers go.
            retired = IdeaTally(
                policy=tally.policy,
                sponsor_customer=None,
                generation=tally.generation + 1,
                leftovers=True,
            )
            work.entry = replace(work.entry, tally=retired)
            return _Progress(work, None)
        if tally is not None and tally.policy != policy and counts_alike(tally.policy, policy):
            # A stage move or a new threshold: every organization counts the same.
            tally = tally.copy()
            tally.policy = policy
            work.entry = replace(work.entry, tally=tally)
        if tally is not None and tally.policy == policy:
            return _Progress(work, tally)
        fresh = IdeaTally(
            policy=policy,
            sponsor_customer=None,
            generation=(tally.generation if tally else 0) + 1,
            pending=True,
            leftovers=tally is not None,
        )
        work.entry = replace(work.entry, tally=fresh)
        return _Progress(work, fresh, new_generation=True)

    async def _chunk(self, session: AsyncClientSession, idea: _Progress) -> None:
        """Records the tally's generation has still to count join this transaction."""
        tally = idea.tally
        if tally is None or not tally.pending:
            return
        tenant_id, idea_id = idea.idea
        changes = idea.work.changes
        skip = [record_key(tenant_id, idea_id, oid) for oid in changes]
        records, idea.completes = await self._evidence.uncounted(
            session, tenant_id, idea_id, tally.generation, skip
        )
        for record in records:
            changes[record.organization_id] = Change(record, _plain(record))

    def _sponsor_of(self, idea: _Progress, directory: Mapping[str, Organization]) -> None:
        """A new generation's sponsor customer (it counts once its customer joins)."""
        tally, entry = idea.tally, idea.work.entry
        sponsor = entry.sponsor_organization_id
        assert tally is not None
        if sponsor:
            affiliates = tally.policy.affiliates_count_once
            tally.sponsor_customer = customer_id_of(sponsor, directory) if affiliates else sponsor
        idea.work.entry = replace(
            entry, sponsor_chain=chain_of(sponsor, directory) if sponsor else ()
        )

    # --- 2, 3: the changed organizations, and what the cutoff expires ----------------

    def _judge_changes(
        self, idea: _Progress, directory: Mapping[str, Organization], at: datetime
    ) -> None:
        tally = idea.tally
        policy = tally.policy if tally is not None else None
        cutoff = stale_before(at, policy.max_age_days) if policy is not None else None
        dated = bool(policy and policy.max_age_days)
        for oid, change in idea.work.changes.items():
            after, before = change.after, change.before
            counted = None
            if policy is not None and after.endorsement is not None:
                top = customer_id_of(oid, directory)
                counted = contribution(policy, after.endorsement, directory.get(oid), top, cutoff)
            change.after = Record(
                organization_id=oid,
                version=after.version,
                endorsement=after.endorsement,
                member_count=after.member_count,
                organization=directory.get(oid),
                chain=chain_of(oid, directory),
                contribution=counted,
                dated=dated and counted is not None and counted.member is not None,
                generation=tally.generation if tally is not None else after.generation,
            )
            if tally is not None:
                # What it counted for before, if in this generation of the tally.
                old = before.member if before and before.generation == tally.generation else None
                idea.moves.append((old, counted.member if counted else None))

    async def _expire(self, session: AsyncClientSession, idea: _Progress, at: datetime) -> None:
        """Counted endorsements the cutoff has passed stop counting, each once."""
        tally = idea.tally
        if tally is None:
            return
        cutoff = stale_before(at, tally.policy.max_age_days)
        if not tally.needs_expiry(cutoff):
            return
        assert cutoff is not None
        idea.expiry_checked = True
        tenant_id, idea_id = idea.idea
        skip = [record_key(tenant_id, idea_id, oid) for oid in idea.work.changes]
        for record in await self._evidence.stale(
            session, tenant_id, idea_id, tally.generation, cutoff, skip
        ):
            assert record.contribution is not None
            idea.moves.append((record.member, None))
            stale = Contribution(record.contribution.customer_id, 0.0, ExclusionReason.STALE, None)
            idea.expired.append(replace(record, contribution=stale, dated=False))

    # --- 4: customers, records, and what the recount asks for ------------------------

    async def _recount(self, session: AsyncClientSession, ideas: Sequence[_Progress]) -> None:
        wanted = {
            customer_key(*idea.idea, member.customer_id)
            for idea in ideas
            for move in idea.moves
            for member in move
            if member is not None
        }
        stored = await self._evidence.customers(session, sorted(wanted))
        records: list[Document] = []
        for idea in ideas:
            tenant_id, idea_id = idea.idea
            records.extend(
                record_document(tenant_id, idea_id, c.after) for c in idea.work.changes.values()
            )
            records.extend(record_document(tenant_id, idea_id, r) for r in idea.expired)
            tally = idea.tally
            if tally is None:
                continue
            mine: dict[str, Customer] = {}
            for move in idea.moves:
                for member in move:
                    if member is None:
                        continue
                    found = stored.get(customer_key(tenant_id, idea_id, member.customer_id))
                    # A customer of an older generation is not this tally's.
                    if found is not None and found[0] == tally.generation:
                        mine[member.customer_id] = found[1]
            idea.recount = Recount(tally, mine)
            for before, after in idea.moves:
                idea.recount.move(before, after)
        await self._evidence.write_records(session, records)

        customers: list[tuple[str, Document | None]] = []
        for idea in ideas:
            recount = idea.recount
            if recount is None:
                continue
            tenant_id, idea_id = idea.idea
            generation = recount.tally.generation
            for cid in recount.unknown_heaviest():
                heaviest = await self._evidence.heaviest(
                    session, tenant_id, idea_id, generation, cid
                )
                recount.settle_heaviest(cid, heaviest)
            for cid, customer in recount.customers.items():
                doc = (
                    customer_document(tenant_id, idea_id, customer, generation)
                    if customer
                    else None
                )
                customers.append((customer_key(tenant_id, idea_id, cid), doc))
        await self._evidence.write_customers(session, customers)

        for idea in ideas:
            recount = idea.recount
            if recount is None:
                continue
            tenant_id, idea_id = idea.idea
            tally = recount.tally
            if recount.close():
                recount.settle_top(
                    await self._evidence.top(session, tenant_id, idea_id, tally.generation)
                )
            if idea.expiry_checked:
                # Tightened to the oldest still counted, so the next look-up waits for it.
                tally.fresh_since = await self._evidence.oldest(
                    session, tenant_id, idea_id, tally.generation
                )
            if idea.completes:
                tally.pending = False
            idea.tally = tally
            idea.work.entry = replace(idea.work.entry, tally=tally)

    async def _sponsor(
        self, session: AsyncClientSession, idea: _Progress, directory: Mapping[str, Organization]
    ) -> None:
        """The sponsor's customer after a change of its directory entry or its parents'."""
        entry, sponsor = idea.work.entry, idea.work.entry.sponsor_organization_id
        if not sponsor:
            return
        idea.work.entry = entry = replace(entry, sponsor_chain=chain_of(sponsor, directory))
        tally = idea.tally
        if tally is None:
            return
        affiliates = tally.policy.affiliates_count_once
        customer = customer_id_of(sponsor, directory) if affiliates else sponsor
        if customer != tally.sponsor_customer:
            tally = tally.copy()
            tally.sponsor_customer = customer
            tally.sponsor_counted = await self._evidence.is_customer(
                session, entry.tenant_id, entry.idea_id, tally.generation, customer
            )
            idea.tally = tally
            idea.work.entry = replace(entry, tally=tally)

    async def _clean_up(self, session: AsyncClientSession, idea: _Progress) -> None:
        """A chunk of the customers older generations left behind."""
        entry = idea.work.entry
        tally = entry.tally
        if tally is None or not tally.leftovers:
            return
        done = await self._evidence.drop_customers(
            session, entry.tenant_id, entry.idea_id, tally.generation
        )
        if not done:
            return
        if idea.tally is None:  # retired: nothing is left of it
            idea.work.entry = replace(entry, tally=None)
            return
        tally = tally.copy()
        tally.leftovers = False
        idea.tally = tally
        idea.work.entry = replace(entry, tally=tally)

    # --- 5: judging ------------------------------------------------------------------

    async def _judge(
        self, session: AsyncClientSession, ideas: Sequence[_Progress], at: datetime
    ) -> None:
        need_councils = {
            idea.idea[0]
            for idea in ideas
            if idea.tally is not None and idea.tally.policy.council_approval
        }
        councils: dict[str, tuple[Council, ...]] = {}
        if need_councils:
            councils = await self._directory.councils_of(need_councils, session)
        changed: list[tuple[_Progress, IdeaTally, GateReport, GateChange]] = []
        for idea in ideas:
            work, tally = idea.work, idea.tally
            entry = work.entry
            if tally is None:
                work.report = None
                work.entry = replace(entry, gate=None)
                continue
            if tally.pending:
                work.report = None  # judged once the rebuild has counted everyone
                continue
            policy = tally.policy
            report = judge(
                policy,
                tally.standing(),
                councils.get(entry.tenant_id, ()),
                entry.votes_for(policy.stage),
                at,
                tuple,
            )
            change = gate_change(entry.gate, policy.stage, report.holds)
            if change is not None:
                changed.append((idea, tally, report, change))
            work.report = report
            work.entry = replace(entry, gate=GateState(policy.stage, report.holds))
        # A gate that opened or closed is told with its report's weights: the records of
        # the small ideas are read in one query, a large idea's heaviest by their index.
        small = [
            (i.work.entry.tenant_id, i.work.entry.idea_id, t.generation)
            for i, t, _, _ in changed
            if i.work.entry.organization_count <= LISTED
        ]
        listed = await self._evidence.listed_many(session, small)
        for idea, tally, report, change in changed:
            work = idea.work
            entry = work.entry
            records = listed.get(entry.idea_id)
            if records is None and entry.organization_count > LISTED:
                records = await self._evidence.listed(
                    session, entry.tenant_id, entry.idea_id, tally.generation
                )
            report = self._with_weights(entry, tally, report, records or [])
            event = idea_event(entry, at)
            payload = event.gate_opened if change is GateChange.OPENED else event.gate_closed
            payload.stage = tally.policy.stage
            payload.report.CopyFrom(report_message(report))
            work.events.append((event, work.cause))
            work.report = report

    def _with_weights(
        self, entry: Entry, tally: IdeaTally, report: GateReport, listed: list[Record]
    ) -> GateReport:
        """The report with the heaviest organizations' weights."""
        total = tally.standing().total_weight
        weights = report_weights(listed, total, entry.sponsor_organization_id)
        return replace(
            report,
            _weights_of=functools.partial(tuple, weights),
            weights_omitted=max(0, entry.organization_count - len(weights)),
        )
