"""The public gRPC API: what vendor PDP tools and customers' integrations call.

One module per public service (`ideas_api`, `gates_api`, `insights_api`,
`directory_api`, `access_api`, `events_api`, `notifications_api`, `peers_api`); here
is what they share. Each method takes the caller's principal (set by
`auth.AuthInterceptor`), applies the acting-for and visibility rules (`principals.py`,
`visibility.py`) and calls the internal services; the backends name the principal's
tenant (and actor) in every internal request, so no servicer does (`backends.py`). A
call whose request and answer are the backend's, field by field, is forwarded as it is
(`forwarding.py`).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

import grpc

from quorum.validation.v1 import validation_pb2
from quorum_common.grpc_server import Context as Context  # the servicers take it from here
from quorum_gateway.auth import current_principal
from quorum_gateway.backends import Backends
from quorum_gateway.consistency import LedgerReads
from quorum_gateway.idea_cache import IdeaCache, canonical_id
from quorum_gateway.peer_visibility import PeerVisibility
from quorum_gateway.principals import Principal, acting_organization

log = logging.getLogger(__name__)
WATCH_HEADER = "quorum-watch"
# The cursor a watch starts after: a client that asked "from now" resumes from it
# without a gap if the stream drops before its first event.
WATCH_CURSOR_HEADER = "quorum-watch-cursor"


def acting_for(principal: Principal, request: Any) -> dict[str, Any]:
    """The organization a call is for: a customer's own (the one it names, or none), one
    of an integration's, whichever a vendor names (`principals.acting_organization`)."""
    return {"organization_id": acting_organization(principal, request.organization_id)}


class Gateway:
    """What all public servicers share: backends, the idea cache and the visibility rules."""

    def __init__(
        self,
        backends: Backends,
        ideas: IdeaCache | None = None,
        peers: PeerVisibility | None = None,
    ) -> None:
        self.backends = backends
        self.ideas = ideas or IdeaCache(ttl=0)
        self.ledger = LedgerReads(backends)
        self.peers = peers or PeerVisibility(ttl=0)

    @contextlib.asynccontextmanager
    async def changing(self, *idea_ids: str) -> AsyncIterator[None]:
        """Around a write to these ideas: the cache forgets them once it is answered.

        Also when it fails: a call that timed out may still have committed.
        """
        try:
            yield
        finally:
            tenant_id = current_principal().tenant_id
            for idea_id in idea_ids:
                canonical = canonical_id(idea_id)
                if canonical:
                    self.ideas.forget(tenant_id, canonical)

    async def visible_organizations(
        self,
        principal: Principal,
        organization_ids: set[str],
        context: Context,
        *,
        best_effort: bool = False,
    ) -> set[str]:
        """Organizations whose identity this principal may see among the given ones.

        `best_effort` is for the answer to a write that is already committed: if the
        directory cannot be asked, the others stay hidden (the safe side) rather than
        the write being reported as failed.
        """
        own = set(principal.own_organizations())
        seen, unknown = self.peers.known(principal.tenant_id, organization_ids - own)
        others = sorted(unknown)
        if not others:
            return own | seen
        request = validation_pb2.ListOrganizationsRequest(organization_ids=others, page_size=500)
        if best_effort:
            try:
                found = await self.backends.invoke(
                    self.backends.directory.ListOrganizations,
                    request,
                    self.backends.timeout_within(context),
                )
            except grpc.aio.AioRpcError as error:
                log.warning(
                    "directory unavailable (%s): a write's answer hides other organizations",
                    error.code().name,
                )
                return own
        else:
            found = await self.backends.call(
                self.backends.directory.ListOrganizations, request, context
            )
        visible: set[str] = {o.organization_id for o in found.organizations if o.peer_visible}
        self.peers.learn(principal.tenant_id, others, visible)
        return own | seen | visible

    async def progress(
        self, idea_id: str, context: Context
    ) -> validation_pb2.GetIdeaProgressResponse | None:
        try:
            return await self.backends.invoke(
                self.backends.gates.GetIdeaProgress,
                validation_pb2.GetIdeaProgressRequest(idea_id=idea_id),
                self.backends.timeout_within(context),
            )
        except grpc.aio.AioRpcError as error:
            # Not in the ledger yet: the idea exists, its stage is on its way.
            if error.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise


class Servicer:
    """What every public servicer that calls the backends starts from: the gateway's
    shared parts, and its backends (`forwarding.forwarded` calls go through them)."""

    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway
        self._backends = gateway.backends
