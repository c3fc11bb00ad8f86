"""The tenant's directory: customer organizations and councils (MongoDB)."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase

from quorum.domain.v1 import domain_pb2
from quorum_common.errors import FieldViolation, InvalidArgument, NotFound
from quorum_common.events import now
from quorum_common.mongo import Document
from quorum_validation.gate import Council, Organization
from quorum_validation.messages import (
    council_document,
    council_from,
    council_message,
    organization_document,
    organization_from,
    organization_message,
)

ORGANIZATIONS = "organizations"
COUNCILS = "councils"
# Before changes were kept in REEVALUATIONS: a counter per tenant (read at upgrade).
TENANTS = "tenants"
# What re-evaluation still owes: one document per changed organization, and one per
# tenant whose policies or councils changed ("*": every open idea).
REEVALUATIONS = "reevaluations"
EVERY_IDEA = "*"
INDEXES = {
    ORGANIZATIONS: [IndexModel([("tenant_id", ASCENDING), ("organization_id", ASCENDING)])],
    COUNCILS: [IndexModel([("tenant_id", ASCENDING), ("council_id", ASCENDING)])],
    TENANTS: [],
    REEVALUATIONS: [],
}


@dataclass(frozen=True)
class Directory:
    """What a gate evaluation needs to know of the tenant's customers."""

    organizations: dict[str, Organization]
    councils: tuple[Council, ...]


async def mark_changed(
    database: AsyncDatabase[Document],
    session: AsyncClientSession,
    tenant_id: str,
    organization_id: str = EVERY_IDEA,
) -> None:
    """Note what re-evaluation owes (see reevaluation.Reevaluator).

    An organization's change touches only the ideas whose evidence depends on its entry;
    a policy or council change (the default) touches every open idea of the tenant. The
    token changes with every mark, so a re-evaluation that read an older one leaves the
    newer mark for the next round.
    """
    await database[REEVALUATIONS].replace_one(
        {"_id": f"{tenant_id}/{organization_id}"},
        {"tenant_id": tenant_id, "organization_id": organization_id, "token": str(uuid.uuid4())},
        upsert=True,
        session=session,
    )


class DirectoryStore:
    def __init__(self, database: AsyncDatabase[Document]) -> None:
        self._database = database
        self._organizations = database[ORGANIZATIONS]
        self._councils = database[COUNCILS]

    async def load(self, tenant_id: str, session: AsyncClientSession | None = None) -> Directory:
        organizations = {
            doc["organization_id"]: organization_from(doc)
            async for doc in self._organizations.find({"tenant_id": tenant_id}, session=session)
        }
        return Directory(organizations, await self._load_councils(tenant_id, session))

    async def load_for(
        self,
        tenant_id: str,
        organization_ids: Iterable[str],
        session: AsyncClientSession | None = None,
    ) -> Directory:
        """The part of the directory a gate over these organizations looks at.

        Those organizations, their parents up to the top of each corporate tree (for
        affiliates counting once), and every council. Reading the whole directory
        instead cost each consumed event time in proportion to the tenant's customer
        count (docs/benchmarks.md).
        """
        organizations: dict[str, Organization] = {}
        wanted = set(organization_ids)
        while wanted:
            cursor = self._organizations.find(
                {"_id": {"$in": [f"{tenant_id}/{oid}" for oid in sorted(wanted)]}},
                session=session,
            )
            async for doc in cursor:
                organizations[doc["organization_id"]] = organization_from(doc)
            # Parents not read yet; a parent missing from the directory ends its chain.
            asked = wanted
            wanted = {
                parent
                for org in organizations.values()
                if (parent := org.parent_id) is not None and parent not in organizations
            } - asked
        return Directory(organizations, await self._load_councils(tenant_id, session))

    async def organizations(
        self,
        wanted: Mapping[str, Iterable[str]],
        session: AsyncClientSession | None = None,
    ) -> dict[str, dict[str, Organization]]:
        """Organizations of several tenants with their parents, by tenant and id.

        One `$in` per level of the corporate trees (one for organizations without a
        parent); a parent missing from the directory ends its chain.
        """
        found: dict[str, dict[str, Organization]] = {t: {} for t in wanted}
        asked: set[tuple[str, str]] = set()
        pending = {(t, oid) for t, ids in wanted.items() for oid in ids}
        while pending:
            asked |= pending
            keys = sorted(f"{t}/{oid}" for t, oid in pending)
            for start in range(0, len(keys), 1000):
                chunk = keys[start : start + 1000]
                cursor = self._organizations.find(
                    {"_id": {"$in": chunk}}, session=session, batch_size=len(chunk) + 1
                )
                async for doc in cursor:
                    found[doc["tenant_id"]][doc["organization_id"]] = organization_from(doc)
            pending = {
                (t, parent)
                for t, orgs in found.items()
                for org in orgs.values()
                if (parent := org.parent_id) is not None and (t, parent) not in asked
            }
        return found

    async def councils_of(
        self, tenant_ids: Iterable[str], session: AsyncClientSession | None = None
    ) -> dict[str, tuple[Council, ...]]:
        """Every council of these tenants (one command), by tenant, ordered by id."""
        tenants = sorted(set(tenant_ids))
        found: dict[str, list[Council]] = {t: [] for t in tenants}
        if tenants:
            cursor = self._councils.find(
                {"tenant_id": {"$in": tenants}}, sort=[("council_id", ASCENDING)], session=session
            )
            async for doc in cursor:
                found[doc["tenant_id"]].append(council_from(doc))
        return {t: tuple(c) for t, c in found.items()}

    async def _load_councils(
        self, tenant_id: str, session: AsyncClientSession | None
    ) -> tuple[Council, ...]:
        return tuple(
            [
                council_from(doc)
                async for doc in self._councils.find(
                    {"tenant_id": tenant_id}, sort=[("council_id", ASCENDING)], session=session
                )
            ]
        )

    async def load_documents(
        self, tenant_id: str, organization_ids: list[str], session: AsyncClientSession | None = None
    ) -> list[Document]:
        """Raw directory entries (including private fields such as the contact)."""
        cursor = self._organizations.find(
            {"tenant_id": tenant_id, "organization_id": {"$in": organization_ids}}, session=session
        )
        return [doc async for doc in cursor]

    async def peer_visible_documents(
        self, tenant_id: str, session: AsyncClientSession | None = None
    ) -> list[Document]:
        """Directory entries of the organizations that opted into peer visibility."""
        cursor = self._organizations.find(
            {"tenant_id": tenant_id, "peer_visible": True}, session=session
        )
        return [doc async for doc in cursor]

    async def upsert_organization(
        self, session: AsyncClientSession, tenant_id: str, message: domain_pb2.Organization
    ) -> domain_pb2.Organization:
        doc = organization_document(tenant_id, message, now())
        await self._organizations.replace_one(
            {"_id": doc["_id"]}, doc, upsert=True, session=session
        )
        await mark_changed(self._database, session, tenant_id, message.organization_id)
        return organization_message(doc)

    async def get_organization(
        self, tenant_id: str, organization_id: str
    ) -> domain_pb2.Organization:
        doc = await self._organizations.find_one({"_id": f"{tenant_id}/{organization_id}"})
        if doc is None:
            raise NotFound(f"organization {organization_id} not found")
        return organization_message(doc)

    async def list_organizations(
        self, tenant_id: str, page_size: int, page_token: str, only: list[str] | None = None
    ) -> tuple[list[domain_pb2.Organization], str]:
        after = ""
        if page_token:
            try:
                after = base64.urlsafe_b64decode(page_token.encode()).decode()
            except (ValueError, UnicodeDecodeError):
                raise InvalidArgument(
                    [FieldViolation("page_token", "is not a token from a previous page")]
                ) from None
        query: Document = {"tenant_id": tenant_id}
        condition: Document = {}
        if after:
            condition["$gt"] = after
        if only:
            condition["$in"] = only
        if condition:
            query["organization_id"] = condition
        docs = await self._organizations.find(
            query, sort=[("organization_id", ASCENDING)], limit=page_size + 1
        ).to_list()
        more = len(docs) > page_size
        docs = docs[:page_size]
        token = (
            base64.urlsafe_b64encode(docs[-1]["organization_id"].encode()).decode()
            if more and docs
            else ""
        )
        return [organization_message(d) for d in docs], token

    async def upsert_council(
        self, session: AsyncClientSession, tenant_id: str, message: domain_pb2.Council
    ) -> domain_pb2.Council:
        doc = council_document(tenant_id, message, now())
        await self._councils.replace_one({"_id": doc["_id"]}, doc, upsert=True, session=session)
        await mark_changed(self._database, session, tenant_id)
        return council_message(doc)

    async def list_councils(self, tenant_id: str) -> list[domain_pb2.Council]:
        cursor = self._councils.find({"tenant_id": tenant_id}, sort=[("council_id", ASCENDING)])
        return [council_message(doc) async for doc in cursor]

    async def council(
        self, tenant_id: str, council_id: str, session: AsyncClientSession
    ) -> Council:
        doc = await self._councils.find_one({"_id": f"{tenant_id}/{council_id}"}, session=session)
        if doc is None:
            raise NotFound(f"council {council_id} not found")
        return council_from(doc)
