"""Re-judging ideas after a tenant's policies, councils or directory change.

A change marks what it touches (`directory.mark_changed`) in its own transaction; this
loop works the marks off and deletes each once done (unless marked again meanwhile), so
unfinished work is found again after a crash. A policy or council change re-judges every
open idea of the tenant from its tally (councils are read fresh); a tally kept for a
policy that counts organizations differently is rebuilt. An organization's change
touches only the ideas whose evidence depends on its directory entry (it or an
affiliate endorses, or it is in the sponsor's tree), and in them only those records.
Each idea is one unit of work.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from quorum_common.mongo import Document
from quorum_common.outbox import Outbox
from quorum_common.unit_of_work import Unit, commit
from quorum_common.workers import run_woken
from quorum_validation.directory import EVERY_IDEA, REEVALUATIONS, TENANTS
from quorum_validation.evidence import Record
from quorum_validation.judging import Change, Judging, Work
from quorum_validation.lifecycle import Status
from quorum_validation.stores import Stores
from quorum_validation.usecases import moment

log = logging.getLogger(__name__)


class Reevaluator:
    def __init__(
        self,
        client: AsyncMongoClient[Document],
        database: AsyncDatabase[Document],
        outbox: Outbox | None,
        stores: Stores,
        judging: Judging,
        clock: Callable[[], datetime] = moment,
    ) -> None:
        self._client = client
        self._outbox = outbox
        self._marks = database[REEVALUATIONS]
        self._tenants = database[TENANTS]
        self._stores = stores
        self._judging = judging
        self._clock = clock
        self._wake = asyncio.Event()

    def notify(self) -> None:
        self._wake.set()

    async def run_once(self) -> int:
        """Work off every mark; how many gates opened or closed."""
        changed = 0
        # Counters of the layout before marks: the tenant's every open idea.
        async for tenant in self._tenants.find({"$expr": {"$gt": ["$changes", "$reevaluated"]}}):
            changed += await self.reevaluate(tenant["_id"], every=True)
            await self._tenants.update_one(
                {"_id": tenant["_id"]}, {"$max": {"reevaluated": tenant["changes"]}}
            )
        marks = await self._marks.find({}).to_list()
        by_tenant: dict[str, list[Document]] = {}
        for mark in marks:
            by_tenant.setdefault(mark["tenant_id"], []).append(mark)
        for tenant_id, found in sorted(by_tenant.items()):
            organizations = sorted(
                m["organization_id"] for m in found if m["organization_id"] != EVERY_IDEA
            )
            every = len(organizations) < len(found)
            changed += await self.reevaluate(tenant_id, every, organizations)
            for mark in found:
                await self._marks.delete_one({"_id": mark["_id"], "token": mark["token"]})
        return changed + await self.finish_rebuilds()

    async def finish_rebuilds(self) -> int:
        """Carry every unfinished rebuild and clean-up on, a chunk per transaction."""
        changed = 0
        while ideas := await self._stores.ledger.unfinished():
            for idea_id in ideas:

                async def work(unit: Unit, idea_id: str = idea_id) -> bool:
                    return await self._one(unit, None, idea_id, [])

                changed += await commit(self._client, self._outbox, work)
        return changed

    async def reevaluate(
        self, tenant_id: str, every: bool = False, organizations: list[str] | None = None
    ) -> int:
        touched: set[str] = set()
        if organizations:
            touched = await self._stores.evidence.ideas_touching(tenant_id, organizations)
            touched |= await self._stores.ledger.ideas_sponsored_within(tenant_id, organizations)
        ids = sorted(set(await self._stores.ledger.open_ideas(tenant_id)) if every else touched)
        changed = 0
        for idea_id in ids:
            # Only the organizations whose directory entries changed are judged again.
            again = (organizations or []) if idea_id in touched else []

            async def work(unit: Unit, idea_id: str = idea_id, again: list[str] = again) -> bool:
                return await self._one(unit, tenant_id, idea_id, again)

            changed += await commit(self._client, self._outbox, work)
        return changed

    async def _one(self, unit: Unit, tenant_id: str | None, idea_id: str, again: list[str]) -> bool:
        """Judge one idea again (`tenant_id` None: carry its unfinished rebuild on)."""
        entries = await self._stores.ledger.entries(unit.session, [idea_id])
        entry = entries.get(idea_id)
        if entry is None:
            return False
        if tenant_id is None:
            tally = entry.tally
            if tally is None or not (tally.pending or tally.leftovers):
                return False  # finished meanwhile
        elif entry.tenant_id != tenant_id or entry.status is not Status.OPEN:
            return False
        pipeline = await self._stores.policies.pipeline(entry.tenant_id, unit.session)
        work = Work(entry, entry.version, pipeline)
        if again:
            # Each record whose customer depends on a changed entry is judged again
            # with the directory as it is now, and written even if unchanged: a batch
            # that read the old entry concurrently then conflicts and runs again.
            for record in await self._stores.evidence.records_touching(
                unit.session, entry.tenant_id, idea_id, again
            ):
                plain = Record(
                    record.organization_id, record.version, record.endorsement, record.member_count
                )
                work.changes[record.organization_id] = Change(record, plain)
            sponsor = entry.sponsor_organization_id
            work.sponsor_changed = bool({sponsor, *entry.sponsor_chain} & set(again))
        await self._judging.settle(unit.session, [work], self._clock())
        moved = work.entry.gate != entry.gate
        if not again and not moved and work.entry == replace(entry, gate=work.entry.gate):
            return False  # same verdict, same tally: nothing to write, nothing to tell
        # The version moves with the verdict only, as an expected_version reader expects.
        saved = replace(work.entry, version=entry.version + 1 if moved else entry.version)
        await self._stores.ledger.save(unit.session, [(saved, entry.version)])
        unit.publish([event for event, _ in work.events])
        return bool(work.events)

    async def run(self, sweep_seconds: float = 5.0) -> None:
        async def look() -> float:
            await self.run_once()
            return sweep_seconds

        await run_woken(self._wake, look, log, "re-evaluation", sweep_seconds)
