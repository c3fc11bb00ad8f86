"""Every change to ideas: concurrent calls decided together, committed together.

Submissions, endorsements and withdrawals go through one `GroupCommit`: a group
reads what it touches with one query per collection (the ideas, the member records
of the organizations involved, the request ids), decides each call in turn with the
pure rules of `domain.py` on the state the calls before it left, and writes every
change with one command per collection, in one transaction with the events. Several
calls on one popular idea in one group cost one update of that idea.

Inside the snapshot transaction a concurrent writer (another replica) surfaces as a
write conflict, which the driver retries from the reads, so the rules always decide
on the latest state; the version filter on every idea update is the backstop that
turns a lost race into Conflict (ABORTED) instead of a silent overwrite.

A merge reads and moves every endorsement of the source idea, so it commits on its
own rather than holding up a group.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from pymongo import DeleteOne, ReplaceOne, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase

from quorum.events.v1 import events_pb2
from quorum_common.errors import Conflict, NotFound, QuorumError
from quorum_common.mongo import Document
from quorum_common.unit_of_work import Unit
from quorum_ideas import domain, requests
from quorum_ideas.documents import (
    ENDORSEMENTS,
    IDEAS,
    ORGANIZATION_ENDORSEMENTS,
    REQUESTS,
    endorsement_document,
    endorsement_of,
    idea_document,
    idea_of,
    member_key,
    organization_document,
    organization_key,
    request_key,
    totals_of,
    under,
)
from quorum_ideas.domain import (
    BackingTotals,
    Idea,
    Member,
    MemberEndorsement,
    OrganizationBacking,
    OrganizationEndorsement,
)
from quorum_ideas.messages import endorsement_withdrawn, idea_endorsed, idea_submitted


@dataclass(frozen=True)
class Endorsed:
    """The answer to one EndorseIdea."""

    idea: Idea
    counted: OrganizationEndorsement | None
    changed: bool


@dataclass(frozen=True)
class Withdrew:
    """The answer to one WithdrawEndorsement."""

    idea: Idea
    counted: OrganizationEndorsement | None


@dataclass
class GroupState:
    """What a group read, and what its calls have decided so far."""

    ideas: dict[str, Idea]
    backings: dict[tuple[str, str], OrganizationBacking]
    requests: dict[str, SubmittedRequest]
    read_versions: dict[str, int] = field(default_factory=dict)
    read_backings: dict[tuple[str, str], OrganizationBacking] = field(default_factory=dict)
    new_ideas: dict[str, Idea] = field(default_factory=dict)
    new_requests: dict[str, Document] = field(default_factory=dict)
    touched: dict[tuple[str, str], OrganizationBacking] = field(default_factory=dict)
    events: list[events_pb2.Event] = field(default_factory=list)

    def idea(self, tenant_id: str, idea_id: str) -> Idea:
        idea = self.ideas.get(idea_id)
        if idea is None or idea.tenant_id != tenant_id:
            raise NotFound(f"idea {idea_id} not found")
        return idea

    def backing(self, idea_id: str, organization_id: str) -> OrganizationBacking:
        found = self.backings.get((idea_id, organization_id))
        return found or OrganizationBacking(organization_id)

    def set_backing(self, idea_id: str, backing: OrganizationBacking) -> None:
        self.backings[(idea_id, backing.organization_id)] = backing
        self.touched[(idea_id, backing.organization_id)] = backing


class Work(Protocol):
    @property
    def tenant_id(self) -> str: ...

    @property
    def idea_id(self) -> str: ...

    def organization(self) -> str | None:
        """The organization whose records this work reads, if any."""

    def member(self) -> Member | None:
        """The one member whose record of `organization()` it needs; None: every member's."""

    def decide(self, state: GroupState, at: datetime) -> Any:
        """Apply the rules to `state`, recording changes and events; the call's answer."""


@dataclass(frozen=True)
class Submit:
    tenant_id: str
    idea: Idea
    endorsement: domain.MemberEndorsement
    request_id: str = ""
    # The body a retry with the same request id must repeat (domain.submission_fingerprint).
    fingerprint: str = ""

    @property
    def idea_id(self) -> str:
        return self.idea.id

    @property
    def request_key(self) -> str:
        if not self.request_id:
            return ""
        return request_key(self.tenant_id, self.endorsement.member, self.request_id)

    def organization(self) -> str | None:
        return None

    def member(self) -> Member | None:
        return None

    def decide(self, state: GroupState, at: datetime) -> Idea:
        key = self.request_key
        if key:
            earlier = state.requests.get(key)
            if earlier is not None:
                # The same request again: the idea it made, as it stands now.
                domain.check_same_request(earlier.fingerprint, self.fingerprint)
                return state.idea(self.tenant_id, earlier.idea_id)
            state.requests[key] = SubmittedRequest(self.idea.id, self.fingerprint)
            state.new_requests[key] = {
                "_id": key,
                "idea_id": self.idea.id,
                "fingerprint": self.fingerprint,
                "at": at,
            }
        state.ideas[self.idea.id] = self.idea
        state.new_ideas[self.idea.id] = self.idea
        state.set_backing(
            self.idea.id,
            OrganizationBacking(self.endorsement.member.organization_id, (self.endorsement,)),
        )
        state.events.append(idea_submitted(self.idea, self.endorsement))
        return self.idea


@dataclass(frozen=True)
class SubmittedRequest:
    """A SubmitIdea request id already used: the idea it made and the body it had."""

    idea_id: str
    fingerprint: str


class _OnOneIdea:
    """A work whose request names the one idea it changes."""

    request: requests.EndorseRequest | requests.WithdrawRequest

    @property
    def tenant_id(self) -> str:
        return self.request.tenant_id

    @property
    def idea_id(self) -> str:
        return self.request.idea_id


@dataclass(frozen=True)
class Endorse(_OnOneIdea):
    request: requests.EndorseRequest

    def organization(self) -> str | None:
        return self.request.endorsement.member.organization_id

    def member(self) -> Member | None:
        return self.request.endorsement.member

    def decide(self, state: GroupState, at: datetime) -> Endorsed:
        request = self.request
        idea = state.idea(request.tenant_id, request.idea_id)
        backing = state.backing(idea.id, request.endorsement.member.organization_id)
        endorsed = domain.endorse(
            idea, backing, request.endorsement.at(at), request.expected_version
        )
        if endorsed is None:
            return Endorsed(idea, backing.counted(), changed=False)
        state.ideas[idea.id] = endorsed.idea
        state.set_backing(idea.id, endorsed.backing)
        counted = endorsed.backing.counted()
        state.events.append(idea_endorsed(endorsed.idea, endorsed.endorsement, counted))
        return Endorsed(endorsed.idea, counted, changed=True)


@dataclass(frozen=True)
class Withdraw(_OnOneIdea):
    request: requests.WithdrawRequest

    def organization(self) -> str | None:
        return self.request.member.organization_id

    def member(self) -> Member | None:
        # Withdrawing may take away the latest endorsement: the next is among them all.
        return None

    def decide(self, state: GroupState, at: datetime) -> Withdrew:
        request = self.request
        idea = state.idea(request.tenant_id, request.idea_id)
        backing = state.backing(idea.id, request.member.organization_id)
        withdrawn = domain.withdraw(idea, backing, request.member, at, request.expected_version)
        state.ideas[idea.id] = withdrawn.idea
        state.set_backing(idea.id, withdrawn.backing)
        counted = withdrawn.backing.counted()
        state.events.append(endorsement_withdrawn(withdrawn.idea, request.member, counted))
        return Withdrew(withdrawn.idea, counted)


def submitted_request(doc: Document) -> SubmittedRequest:
    return SubmittedRequest(doc["idea_id"], doc.get("fingerprint", ""))


class Writes:
    """Decides and commits groups of works (see the module docstring)."""

    def __init__(self, database: AsyncDatabase[Document], clock: Any) -> None:
        self._ideas = database[IDEAS]
        self._endorsements = database[ENDORSEMENTS]
        self._organizations = database[ORGANIZATION_ENDORSEMENTS]
        self._requests = database[REQUESTS]
        self._clock = clock

    async def apply(self, unit: Unit, works: Sequence[Work]) -> list[Any]:
        state = await self._read(unit, works)
        at = self._clock()
        outcomes: list[Any] = []
        for work in works:
            try:
                outcomes.append(work.decide(state, at))
            except QuorumError as refused:
                outcomes.append(refused)
        await self._write(unit, state)
        unit.publish(state.events)
        return outcomes

    async def _read(self, unit: Unit, works: Sequence[Work]) -> GroupState:
        session = unit.session
        wanted = {w.idea_id for w in works if not isinstance(w, Submit)}
        keys = [key for w in works if isinstance(w, Submit) and (key := w.request_key)]
        requests: dict[str, SubmittedRequest] = {}
        if keys:
            async for doc in self._requests.find({"_id": {"$in": keys}}, session=session):
                requests[doc["_id"]] = submitted_request(doc)
            wanted |= {r.idea_id for r in requests.values()}
        ideas: dict[str, Idea] = {}
        if wanted:
            async for doc in self._ideas.find({"_id": {"$in": sorted(wanted)}}, session=session):
                ideas[doc["_id"]] = idea_of(doc)
        backings = await self._backings(unit, [w for w in works if w.idea_id in ideas])
        state = GroupState(ideas, backings, requests)
        state.read_versions = {idea_id: idea.version for idea_id, idea in ideas.items()}
        state.read_backings = dict(backings)
        return state

    async def _backings(
        self, unit: Unit, works: Sequence[Work]
    ) -> dict[tuple[str, str], OrganizationBacking]:
        """The backings the works change: for an endorsement its member's record and the
        organization's totals; for a withdrawal every member's record (the next latest
        endorsement is among them). One query per collection."""
        session = unit.session
        # (tenant, idea, organization) → the members whose records to read; None: all.
        wanted: dict[tuple[str, str, str], set[Member] | None] = {}
        for work in works:
            organization = work.organization()
            if organization is None:
                continue
            key = (work.tenant_id, work.idea_id, organization)
            member = work.member()
            if member is None:
                wanted[key] = None
            elif key not in wanted:
                wanted[key] = {member}
            elif (members := wanted[key]) is not None:
                members.add(member)
        totals: dict[tuple[str, str], BackingTotals] = {}
        partial = [key for key, members in wanted.items() if members is not None]
        if partial:
            keys = [organization_key(*key) for key in partial]
            async for doc in self._organizations.find({"_id": {"$in": keys}}, session=session):
                kept = totals_of(doc)
                if kept is None:
                    # Written before totals were kept: read it whole this once.
                    wanted[(doc["tenant_id"], doc["idea_id"], doc["organization_id"])] = None
                else:
                    totals[(doc["idea_id"], doc["organization_id"])] = kept
        ranges: list[Document] = []
        points: list[str] = []
        for (tenant_id, idea_id, organization), members in wanted.items():
            if members is None:
                ranges.append({"_id": under(organization_key(tenant_id, idea_id, organization))})
            elif (idea_id, organization) in totals:
                points.extend(member_key(tenant_id, idea_id, m) for m in members)
        if points:
            ranges.append({"_id": {"$in": points}})
        read: dict[tuple[str, str], list[MemberEndorsement]] = {}
        if ranges:
            async for doc in self._endorsements.find({"$or": ranges}, session=session):
                endorsement = endorsement_of(doc)
                of = (doc["idea_id"], endorsement.member.organization_id)
                read.setdefault(of, []).append(endorsement)
        backings: dict[tuple[str, str], OrganizationBacking] = {}
        for (_, idea_id, organization), members in wanted.items():
            pair = (idea_id, organization)
            if members is None:
                if pair in read:
                    backings[pair] = OrganizationBacking(organization, tuple(read[pair]))
            elif pair in totals:
                backings[pair] = OrganizationBacking(
                    organization, tuple(read.get(pair, ())), totals[pair], complete=False
                )
        return backings

    async def _write(self, unit: Unit, state: GroupState) -> None:
        session = unit.session
        if state.new_requests:
            await self._requests.insert_many(list(state.new_requests.values()), session=session)
        if state.new_ideas:
            await self._ideas.insert_many(
                [idea_document(i) for i in state.new_ideas.values()], session=session
            )
        updates = [
            UpdateOne(
                {"_id": idea.id, "version": state.read_versions[idea.id]},
                {"$set": _changeable(idea)},
            )
            for idea in state.ideas.values()
            if idea.id in state.read_versions and idea.version != state.read_versions[idea.id]
        ]
        if updates:
            written = await self._ideas.bulk_write(updates, ordered=False, session=session)
            if written.matched_count != len(updates):
                raise Conflict("an idea changed while this request was applied; re-read it")
        members: list[Any] = []
        organizations: list[Any] = []
        for (idea_id, org), backing in state.touched.items():
            tenant_id = state.ideas[idea_id].tenant_id
            before = state.read_backings.get((idea_id, org))
            more, organization = backing_writes(tenant_id, idea_id, before, backing)
            members.extend(more)
            organizations.append(organization)
        if members:
            await self._endorsements.bulk_write(members, ordered=False, session=session)
        if organizations:
            await self._organizations.bulk_write(organizations, ordered=False, session=session)


def _changeable(idea: Idea) -> Document:
    """What a change may rewrite; stage belongs to the projection, the rest is immutable."""
    doc = idea_document(idea)
    return {
        name: doc[name]
        for name in (
            "updated_at",
            "version",
            "status",
            "merged_into",
            "organization_count",
            "endorsement_count",
        )
    }


def backing_writes(
    tenant_id: str,
    idea_id: str,
    before: OrganizationBacking | None,
    after: OrganizationBacking,
) -> tuple[list[Any], Any]:
    """The writes that turn an organization's stored records from `before` into `after`:
    its member records to replace or delete, and its counted endorsement."""
    old = {_who(e.member): e for e in before.endorsements} if before else {}
    new = {_who(e.member): e for e in after.endorsements}
    members: list[Any] = []
    for who, endorsement in new.items():
        if old.get(who) != endorsement:
            doc = endorsement_document(tenant_id, idea_id, endorsement)
            members.append(ReplaceOne({"_id": doc["_id"]}, doc, upsert=True))
    for who, gone in old.items():
        if who not in new:
            members.append(DeleteOne({"_id": member_key(tenant_id, idea_id, gone.member)}))
    key = organization_key(tenant_id, idea_id, after.organization_id)
    counted = after.counted()
    if counted is None:
        return members, DeleteOne({"_id": key})
    return members, ReplaceOne(
        {"_id": key}, organization_document(tenant_id, idea_id, counted, after.summed), upsert=True
    )


def _who(member: Member) -> Member:
    # A member is who they are within their organization; the job function is a detail.
    return Member(member.organization_id, member.member_id)
