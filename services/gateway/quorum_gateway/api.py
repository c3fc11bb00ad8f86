"""The public gRPC API: what vendor PDP tools and customers' integrations call.

Each method takes the caller's principal (set by `auth.AuthInterceptor`), applies the
acting-for and visibility rules (`principals.py`, `visibility.py`) and calls the
internal services, naming the principal's tenant in every internal request.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import grpc

from quorum.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from quorum.validation.v1 import validation_pb2
from quorum_common.errors import (
    FieldViolation,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Violations,
)
from quorum_gateway.auth import current_principal
from quorum_gateway.backends import Backends
from quorum_gateway.consistency import LedgerReads
from quorum_gateway.eventlog import EventLog
from quorum_gateway.idea_cache import IdeaCache, canonical_id
from quorum_gateway.keys import KeyStore, key_message
from quorum_gateway.principals import (
    Principal,
    Role,
    acting_organization,
)
from quorum_gateway.requests import watch_cursor
from quorum_gateway.visibility import visible_council, visible_report

Context = grpc.aio.ServicerContext[Any, Any]
log = logging.getLogger(__name__)
WATCH_HEADER = "quorum-watch"
# The cursor a watch starts after: a client that asked "from now" resumes from it
# without a gap if the stream drops before its first event.
WATCH_CURSOR_HEADER = "quorum-watch-cursor"
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")


class Gateway:
    """What all public servicers share: backends, the idea cache and the visibility rules."""

    def __init__(self, backends: Backends, ideas: IdeaCache | None = None) -> None:
        self.backends = backends
        self.ideas = ideas or IdeaCache(ttl=0)
        self.ledger = LedgerReads(backends)

    @contextlib.asynccontextmanager
    async def changing(self, principal: Principal, *idea_ids: str) -> AsyncIterator[None]:
        """Around a write to these ideas: the cache forgets them once it is answered.

        Also when it fails: a call that timed out may still have committed.
        """
        try:
            yield
        finally:
            for idea_id in idea_ids:
                canonical = canonical_id(idea_id)
                if canonical:
                    self.ideas.forget(principal.tenant_id, canonical)

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
        others = sorted(organization_ids - own)
        if not others:
            return own
        request = validation_pb2.ListOrganizationsRequest(
            tenant_id=principal.tenant_id, organization_ids=others, page_size=500
        )
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
        return own | {o.organization_id for o in found.organizations if o.peer_visible}

    async def progress(
        self, principal: Principal, idea_id: str, context: Context
    ) -> validation_pb2.GetIdeaProgressResponse | None:
        try:
            return await self.backends.invoke(
                self.backends.gates.GetIdeaProgress,
                validation_pb2.GetIdeaProgressRequest(
                    tenant_id=principal.tenant_id, idea_id=idea_id
                ),
                self.backends.timeout_within(context),
            )
        except grpc.aio.AioRpcError as error:
            # Not in the ledger yet: the idea exists, its stage is on its way.
            if error.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise


class GatesApi(gateway_pb2_grpc.GatesServiceServicer):
    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway
        self._backends = gateway.backends

    async def GetGateReport(
        self, request: gateway_pb2.GetGateReportRequest, context: Context
    ) -> gateway_pb2.GetGateReportResponse:
        principal = current_principal()
        await self._gateway.ledger.caught_up(principal, request.idea_id, context)
        answer = await self._backends.call(
            self._backends.gates.GetGateReport,
            validation_pb2.GetGateReportRequest(
                tenant_id=principal.tenant_id, idea_id=request.idea_id
            ),
            context,
        )
        shown = gateway_pb2.GetGateReportResponse(
            idea_id=answer.idea_id, stage=answer.stage, next_stage=answer.next_stage
        )
        if answer.HasField("report"):
            report = answer.report
            if not principal.is_vendor:
                named = {w.organization_id for w in report.weights}
                named |= {w.customer_id for w in report.weights}
                visible = await self._gateway.visible_organizations(principal, named, context)
                report = visible_report(report, visible)
            shown.report.CopyFrom(report)
        return shown

    async def AdvanceStage(
        self, request: gateway_pb2.AdvanceStageRequest, context: Context
    ) -> gateway_pb2.AdvanceStageResponse:
        principal = current_principal()
        await self._gateway.ledger.caught_up(principal, request.idea_id, context)
        async with self._gateway.changing(principal, request.idea_id):
            answer = await self._backends.call(
                self._backends.gates.AdvanceStage,
                validation_pb2.AdvanceStageRequest(
                    tenant_id=principal.tenant_id,
                    idea_id=request.idea_id,
                    target_stage=request.target_stage,
                    actor=principal.actor(),
                    expected_version=request.expected_version,
                ),
                context,
            )
        return gateway_pb2.AdvanceStageResponse(
            idea_id=answer.idea_id,
            from_stage=answer.from_stage,
            stage=answer.stage,
            status=answer.status,
            report=answer.report,
            stage_version=answer.version,
        )

    async def DeclineIdea(
        self, request: gateway_pb2.DeclineIdeaRequest, context: Context
    ) -> gateway_pb2.DeclineIdeaResponse:
        principal = current_principal()
        await self._gateway.ledger.caught_up(principal, request.idea_id, context)
        async with self._gateway.changing(principal, request.idea_id):
            answer = await self._backends.call(
                self._backends.gates.DeclineIdea,
                validation_pb2.DeclineIdeaRequest(
                    tenant_id=principal.tenant_id,
                    idea_id=request.idea_id,
                    reason=request.reason,
                    actor=principal.actor(),
                    expected_version=request.expected_version,
                ),
                context,
            )
        return gateway_pb2.DeclineIdeaResponse(
            idea_id=answer.idea_id, status=answer.status, stage_version=answer.version
        )

    async def CastCouncilVote(
        self, request: gateway_pb2.CastCouncilVoteRequest, context: Context
    ) -> gateway_pb2.CastCouncilVoteResponse:
        principal = current_principal()
        await self._gateway.ledger.caught_up(principal, request.idea_id, context)
        async with self._gateway.changing(principal, request.idea_id):
            answer = await self._backends.call(
                self._backends.gates.CastCouncilVote,
                validation_pb2.CastCouncilVoteRequest(
                    tenant_id=principal.tenant_id,
                    idea_id=request.idea_id,
                    council_id=request.council_id,
                    organization_id=acting_organization(principal, request.organization_id),
                    approve=request.approve,
                    comment=request.comment,
                ),
                context,
            )
        return gateway_pb2.CastCouncilVoteResponse(
            approvals=answer.approvals, rejections=answer.rejections, stage=answer.stage
        )

    async def OverrideStage(
        self, request: gateway_pb2.OverrideStageRequest, context: Context
    ) -> gateway_pb2.OverrideStageResponse:
        principal = current_principal()
        await self._gateway.ledger.caught_up(principal, request.idea_id, context)
        async with self._gateway.changing(principal, request.idea_id):
            answer = await self._backends.call(
                self._backends.gates.OverrideStage,
                validation_pb2.OverrideStageRequest(
                    tenant_id=principal.tenant_id,
                    idea_id=request.idea_id,
                    target_stage=request.target_stage,
                    justification=request.justification,
                    actor=principal.actor(),
                    expected_version=request.expected_version,
                ),
                context,
            )
        return gateway_pb2.OverrideStageResponse(
            idea_id=answer.idea_id,
            from_stage=answer.from_stage,
            stage=answer.stage,
            status=answer.status,
            report=answer.report,
            stage_version=answer.version,
        )

    async def CoSignIdea(
        self, request: gateway_pb2.CoSignIdeaRequest, context: Context
    ) -> gateway_pb2.CoSignIdeaResponse:
        principal = current_principal()
        await self._gateway.ledger.caught_up(principal, request.idea_id, context)
        if principal.role is Role.CUSTOMER:
            councils = await self._backends.call(
                self._backends.directory.ListCouncils,
                validation_pb2.ListCouncilsRequest(tenant_id=principal.tenant_id),
                context,
            )
            council = next(
                (c for c in councils.councils if c.council_id == request.council_id), None
            )
            if council is None or principal.organization_id not in council.member_organization_ids:
                raise PermissionDenied("only a member of the council may co-sign for it")
        async with self._gateway.changing(principal, request.idea_id):
            answer = await self._backends.call(
                self._backends.gates.CoSignIdea,
                validation_pb2.CoSignIdeaRequest(
                    tenant_id=principal.tenant_id,
                    idea_id=request.idea_id,
                    council_id=request.council_id,
                    actor=principal.actor(),
                ),
                context,
            )
        return gateway_pb2.CoSignIdeaResponse(co_signed_by=answer.co_signed_by)


class InsightsApi(gateway_pb2_grpc.InsightsServiceServicer):
    def __init__(self, gateway: Gateway) -> None:
        self._backends = gateway.backends

    async def GetOrganizationScorecard(
        self, request: gateway_pb2.GetOrganizationScorecardRequest, context: Context
    ) -> gateway_pb2.GetOrganizationScorecardResponse:
        principal = current_principal()
        organization_id = request.organization_id
        if not principal.is_vendor:
            if principal.role is Role.CUSTOMER and not organization_id:
                organization_id = principal.organization_id
            organization_id = acting_organization(principal, organization_id)
        answer = await self._backends.call(
            self._backends.insights.GetOrganizationScorecard,
            validation_pb2.GetOrganizationScorecardRequest(
                tenant_id=principal.tenant_id, organization_id=organization_id
            ),
            context,
        )
        return gateway_pb2.GetOrganizationScorecardResponse(scorecard=answer.scorecard)

    async def GetTenantScorecard(
        self, request: gateway_pb2.GetTenantScorecardRequest, context: Context
    ) -> gateway_pb2.GetTenantScorecardResponse:
        principal = current_principal()
        answer = await self._backends.call(
            self._backends.insights.GetTenantScorecard,
            validation_pb2.GetTenantScorecardRequest(tenant_id=principal.tenant_id),
            context,
        )
        return gateway_pb2.GetTenantScorecardResponse(scorecard=answer.scorecard)

    async def WhatIf(
        self, request: gateway_pb2.WhatIfRequest, context: Context
    ) -> gateway_pb2.WhatIfResponse:
        principal = current_principal()
        answer = await self._backends.call(
            self._backends.insights.WhatIf,
            validation_pb2.WhatIfRequest(tenant_id=principal.tenant_id, draft=request.draft),
            context,
        )
        return gateway_pb2.WhatIfResponse(
            stage=answer.stage,
            would_open=answer.would_open,
            would_close=answer.would_close,
            unchanged=answer.unchanged,
            past_advances_refused=answer.past_advances_refused,
            past_advances_checked=answer.past_advances_checked,
        )


class DirectoryApi(gateway_pb2_grpc.DirectoryServiceServicer):
    def __init__(self, gateway: Gateway) -> None:
        self._gateway = gateway
        self._backends = gateway.backends

    async def UpsertOrganization(
        self, request: gateway_pb2.UpsertOrganizationRequest, context: Context
    ) -> gateway_pb2.UpsertOrganizationResponse:
        principal = current_principal()
        answer = await self._backends.call(
            self._backends.directory.UpsertOrganization,
            validation_pb2.UpsertOrganizationRequest(
                tenant_id=principal.tenant_id, organization=request.organization
            ),
            context,
        )
        return gateway_pb2.UpsertOrganizationResponse(organization=answer.organization)

    async def GetOrganization(
        self, request: gateway_pb2.GetOrganizationRequest, context: Context
    ) -> gateway_pb2.GetOrganizationResponse:
        principal = current_principal()
        answer = await self._backends.call(
            self._backends.directory.GetOrganization,
            validation_pb2.GetOrganizationRequest(
                tenant_id=principal.tenant_id, organization_id=request.organization_id
            ),
            context,
        )
        return gateway_pb2.GetOrganizationResponse(organization=answer.organization)

    async def ListOrganizations(
        self, request: gateway_pb2.ListOrganizationsRequest, context: Context
    ) -> gateway_pb2.ListOrganizationsResponse:
        principal = current_principal()
        answer = await self._backends.call(
            self._backends.directory.ListOrganizations,
            validation_pb2.ListOrganizationsRequest(
                tenant_id=principal.tenant_id,
                page_size=request.page_size,
                page_token=request.page_token,
            ),
            context,
        )
        return gateway_pb2.ListOrganizationsResponse(
            organizations=answer.organizations, next_page_token=answer.next_page_token
        )

    async def UpsertCouncil(
        self, request: gateway_pb2.UpsertCouncilRequest, context: Context
    ) -> gateway_pb2.UpsertCouncilResponse:
        principal = current_principal()
        answer = await self._backends.call(
            self._backends.directory.UpsertCouncil,
            validation_pb2.UpsertCouncilRequest(
                tenant_id=principal.tenant_id, council=request.council
            ),
            context,
        )
        return gateway_pb2.UpsertCouncilResponse(council=answer.council)

    async def ListCouncils(
        self, request: gateway_pb2.ListCouncilsRequest, context: Context
    ) -> gateway_pb2.ListCouncilsResponse:
        principal = current_principal()
        answer = await self._backends.call(
            self._backends.directory.ListCouncils,
            validation_pb2.ListCouncilsRequest(tenant_id=principal.tenant_id),
            context,
        )
        councils = list(answer.councils)
        if not principal.is_vendor:
            members = {o for c in councils for o in c.member_organization_ids}
            visible = await self._gateway.visible_organizations(principal, members, context)
            councils = [visible_council(c, visible) for c in councils]
        return gateway_pb2.ListCouncilsResponse(councils=councils)


class PolicyApi(gateway_pb2_grpc.PolicyServiceServicer):
    def __init__(self, gateway: Gateway) -> None:
        self._backends = gateway.backends

    async def GetPipeline(
        self, request: gateway_pb2.GetPipelineRequest, context: Context
    ) -> gateway_pb2.GetPipelineResponse:
        principal = current_principal()
        answer = await self._backends.call(
            self._backends.policies.GetPipeline,
            validation_pb2.GetPipelineRequest(tenant_id=principal.tenant_id),
            context,
        )
        return gateway_pb2.GetPipelineResponse(pipeline=answer.pipeline)

    async def UpdateGatePolicy(
        self, request: gateway_pb2.UpdateGatePolicyRequest, context: Context
    ) -> gateway_pb2.UpdateGatePolicyResponse:
        principal = current_principal()
        answer = await self._backends.call(
            self._backends.policies.UpdateGatePolicy,
            validation_pb2.UpdateGatePolicyRequest(
                tenant_id=principal.tenant_id, policy=request.policy
            ),
            context,
        )
        return gateway_pb2.UpdateGatePolicyResponse(policy=answer.policy)


class AccessApi(gateway_pb2_grpc.AccessServiceServicer):
    def __init__(self, keys: KeyStore) -> None:
        self._keys = keys

    async def CreateApiKey(
        self, request: gateway_pb2.CreateApiKeyRequest, context: Context
    ) -> gateway_pb2.CreateApiKeyResponse:
        principal = current_principal()
        violations = Violations()
        if not _ID.match(request.principal_id):
            violations.add("principal_id", "must be 1-128 letters, digits or ._:@-")
        if not request.display_name.strip() or len(request.display_name) > 200:
            violations.add("display_name", "is required, at most 200 characters")
        if request.role not in {r.value for r in Role}:
            violations.add("role", "must be VENDOR_ADMIN, PRODUCT_MANAGER, CUSTOMER or INTEGRATION")
        role = Role(request.role) if request.role in {r.value for r in Role} else None
        if role is Role.CUSTOMER:
            if not _ID.match(request.organization_id):
                violations.add("organization_id", "is required for a CUSTOMER key")
            if not _ID.match(request.member_id):
                violations.add("member_id", "is required for a CUSTOMER key")
        if role is Role.INTEGRATION:
            if not request.organization_ids:
                violations.add("organization_ids", "an INTEGRATION key needs its organizations")
            for index, org in enumerate(request.organization_ids):
                if not _ID.match(org):
                    violations.add(f"organization_ids[{index}]", "is not an organization id")
        violations.raise_if_any()
        assert role is not None
        doc, secret = await self._keys.create(
            principal.tenant_id,
            principal_id=request.principal_id,
            display_name=request.display_name.strip(),
            role=role,
            organization_id=request.organization_id if role is Role.CUSTOMER else "",
            member_id=request.member_id if role is Role.CUSTOMER else "",
            organization_ids=list(request.organization_ids) if role is Role.INTEGRATION else [],
            created_by=principal.principal_id,
        )
        return gateway_pb2.CreateApiKeyResponse(key=key_message(doc), secret=secret)

    async def ListApiKeys(
        self, request: gateway_pb2.ListApiKeysRequest, context: Context
    ) -> gateway_pb2.ListApiKeysResponse:
        principal = current_principal()
        keys = await self._keys.list(principal.tenant_id, request.include_revoked)
        return gateway_pb2.ListApiKeysResponse(keys=keys)

    async def RevokeApiKey(
        self, request: gateway_pb2.RevokeApiKeyRequest, context: Context
    ) -> gateway_pb2.RevokeApiKeyResponse:
        principal = current_principal()
        if not request.key_id:
            raise InvalidArgument([FieldViolation("key_id", "is required")])
        doc = await self._keys.revoke(principal.tenant_id, request.key_id)
        return gateway_pb2.RevokeApiKeyResponse(key=key_message(doc))

    async def WhoAmI(
        self, request: gateway_pb2.WhoAmIRequest, context: Context
    ) -> gateway_pb2.WhoAmIResponse:
        principal = current_principal()
        keys = await self._keys.list(principal.tenant_id, include_revoked=False)
        mine = next((k for k in keys if k.key_id == principal.key_id), None)
        if mine is None:
            raise NotFound("this key is gone")
        return gateway_pb2.WhoAmIResponse(tenant_id=principal.tenant_id, key=mine)


class EventsApi(gateway_pb2_grpc.EventsServiceServicer):
    def __init__(self, log: EventLog) -> None:
        self._log = log

    async def WatchEvents(
        self, request: gateway_pb2.WatchEventsRequest, context: Context
    ) -> AsyncIterator[gateway_pb2.WatchEventsResponse]:
        principal = current_principal()
        # The bounds are checked as the request is decoded (requests.check_request).
        after = watch_cursor(request.cursor)
        if after is None:
            after = await self._log.latest(principal.tenant_id)
        # Headers now, so a caller knows the watch is accepted before any event comes
        # (a refused one gets its status instead, without these headers).
        await context.send_initial_metadata(
            ((WATCH_HEADER, "open"), (WATCH_CURSOR_HEADER, str(after)))
        )
        async for seq, raw in self._log.watch(
            principal.tenant_id, after, request.idea_id, list(request.kinds)
        ):
            event = gateway_pb2.WatchEventsResponse(cursor=str(seq))
            event.event.ParseFromString(raw)
            yield event
