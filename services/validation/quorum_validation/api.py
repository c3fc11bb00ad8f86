"""The validation service's internal gRPC API (only the gateway calls it)."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import TypeVar

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession

from quorum.domain.v1 import domain_pb2
from quorum.validation.v1 import validation_pb2, validation_pb2_grpc
from quorum_common.errors import FieldViolation, InvalidArgument, Violations
from quorum_common.events import timestamp
from quorum_common.grpc_server import Context
from quorum_common.mongo import Document
from quorum_common.unit_of_work import commit
from quorum_validation.directory import DirectoryStore
from quorum_validation.gate import GatePolicy
from quorum_validation.insights import Insights, Verdict
from quorum_validation.ledger import LedgerStore, Progress, status_number
from quorum_validation.messages import policy_message, policy_of, report_message
from quorum_validation.peers import Peers
from quorum_validation.policies import PolicyStore
from quorum_validation.reevaluation import Reevaluator
from quorum_validation.requests import (
    JUSTIFICATION_MIN,
    REASON_MAX,
    check_council,
    check_id,
    check_idea,
    check_organization,
    check_policy,
    check_stage,
    check_text,
    idea_checked,
)
from quorum_validation.usecases import Advanced, Gates


def progress_message(found: Progress) -> validation_pb2.GetIdeaProgressResponse:
    return validation_pb2.GetIdeaProgressResponse(
        idea_id=found.idea_id,
        stage=found.stage,
        status=found.status,  # type: ignore[arg-type]
        next_stage=found.next_stage,
        next_gate_holds=found.next_gate_holds,
        version=found.version,
        entered_stage_at=timestamp(found.entered_stage_at),
        organization_count=found.organization_count,
        overridden=found.overridden,
        co_signed_by=list(found.co_signed_by),
        idea_version=found.idea_version,
    )


Moved = TypeVar("Moved", validation_pb2.AdvanceStageResponse, validation_pb2.OverrideStageResponse)


def moved_message(answer: type[Moved], idea_id: str, done: Advanced) -> Moved:
    """What an advance and an override answer alike: where the idea went, and why."""
    return answer(
        idea_id=idea_id,
        from_stage=done.from_stage,
        stage=done.entry.stage,
        status=status_number(done.entry.status),  # type: ignore[arg-type]
        report=report_message(done.report),
        version=done.entry.version,
    )


def checked_policy(message: domain_pb2.GatePolicy, field: str) -> GatePolicy:
    """A policy a request carries: every bad field named, then the engine's own
    consistency checks (named by the policy's field as a whole)."""
    violations = Violations()
    check_policy(violations, message, prefix=field)
    violations.raise_if_any()
    try:
        return policy_of(message, version=1)
    except ValueError as error:
        raise InvalidArgument([FieldViolation(field, str(error))]) from None


Stored = TypeVar("Stored")


async def judged_again(
    client: AsyncMongoClient[Document],
    reevaluator: Reevaluator,
    write: Callable[[AsyncClientSession], Awaitable[Stored]],
) -> Stored:
    """A change to what the gates are judged by (the directory, a policy), committed;
    then the open ideas are judged again (the re-evaluator)."""
    stored = await commit(client, None, lambda unit: write(unit.session))
    reevaluator.notify()
    return stored


class GateApi(validation_pb2_grpc.GateServiceServicer):
    def __init__(self, gates: Gates, ledger: LedgerStore) -> None:
        self._gates = gates
        self._ledger = ledger

    async def GetIdeaProgress(
        self, request: validation_pb2.GetIdeaProgressRequest, context: Context
    ) -> validation_pb2.GetIdeaProgressResponse:
        idea_checked(request.idea_id).raise_if_any()
        # One read: the entry keeps its next stage and its organizations' count.
        found = await self._ledger.progress(request.tenant_id, request.idea_id)
        return progress_message(found)

    async def ListIdeaProgress(
        self, request: validation_pb2.ListIdeaProgressRequest, context: Context
    ) -> validation_pb2.ListIdeaProgressResponse:
        violations = Violations()
        if len(request.idea_ids) > 500:
            violations.add("idea_ids", "at most 500")
        for i, idea_id in enumerate(request.idea_ids):
            check_idea(violations, idea_id, f"idea_ids[{i}]")
        violations.raise_if_any()
        found = await self._ledger.progress_of(request.tenant_id, list(request.idea_ids))
        return validation_pb2.ListIdeaProgressResponse(ideas=[progress_message(p) for p in found])

    async def GetGateReport(
        self, request: validation_pb2.GetGateReportRequest, context: Context
    ) -> validation_pb2.GetGateReportResponse:
        idea_checked(request.idea_id).raise_if_any()
        entry, following, report = await self._gates.gate_report(request.tenant_id, request.idea_id)
        answer = validation_pb2.GetGateReportResponse(
            idea_id=request.idea_id, stage=entry.stage, next_stage=following
        )
        if report is not None:
            answer.report.CopyFrom(report_message(report))
        return answer

    async def AdvanceStage(
        self, request: validation_pb2.AdvanceStageRequest, context: Context
    ) -> validation_pb2.AdvanceStageResponse:
        violations = idea_checked(request.idea_id)
        check_stage(violations, "target_stage", request.target_stage)
        violations.raise_if_any()
        done = await self._gates.advance(
            request.tenant_id,
            request.idea_id,
            request.target_stage,
            request.actor,
            request.expected_version,
        )
        return moved_message(validation_pb2.AdvanceStageResponse, request.idea_id, done)

    async def DeclineIdea(
        self, request: validation_pb2.DeclineIdeaRequest, context: Context
    ) -> validation_pb2.DeclineIdeaResponse:
        violations = idea_checked(request.idea_id)
        check_text(violations, "reason", request.reason, REASON_MAX)
        violations.raise_if_any()
        entry = await self._gates.decline(
            request.tenant_id,
            request.idea_id,
            request.reason.strip(),
            request.actor,
            request.expected_version,
        )
        return validation_pb2.DeclineIdeaResponse(
            idea_id=request.idea_id, status=domain_pb2.IDEA_STATUS_DECLINED, version=entry.version
        )

    async def CastCouncilVote(
        self, request: validation_pb2.CastCouncilVoteRequest, context: Context
    ) -> validation_pb2.CastCouncilVoteResponse:
        violations = idea_checked(request.idea_id)
        check_id(violations, "council_id", request.council_id)
        check_id(violations, "organization_id", request.organization_id)
        check_text(violations, "comment", request.comment, REASON_MAX, required=False)
        violations.raise_if_any()
        stage, approvals, rejections = await self._gates.cast_vote(
            request.tenant_id,
            request.idea_id,
            request.council_id,
            request.organization_id,
            request.approve,
            request.comment.strip(),
        )
        return validation_pb2.CastCouncilVoteResponse(
            approvals=approvals, rejections=rejections, stage=stage
        )

    async def OverrideStage(
        self, request: validation_pb2.OverrideStageRequest, context: Context
    ) -> validation_pb2.OverrideStageResponse:
        violations = idea_checked(request.idea_id)
        check_stage(violations, "target_stage", request.target_stage)
        justification = request.justification.strip()
        if len(justification) < JUSTIFICATION_MIN:
            violations.add(
                "justification", f"must be at least {JUSTIFICATION_MIN} characters: say why"
            )
        elif len(justification) > REASON_MAX:
            violations.add("justification", f"must be at most {REASON_MAX} characters")
        violations.raise_if_any()
        done = await self._gates.override(
            request.tenant_id,
            request.idea_id,
            request.target_stage,
            justification,
            request.actor,
            request.expected_version,
        )
        return moved_message(validation_pb2.OverrideStageResponse, request.idea_id, done)

    async def CoSignIdea(
        self, request: validation_pb2.CoSignIdeaRequest, context: Context
    ) -> validation_pb2.CoSignIdeaResponse:
        violations = idea_checked(request.idea_id)
        check_id(violations, "council_id", request.council_id)
        violations.raise_if_any()
        signed = await self._gates.co_sign(
            request.tenant_id, request.idea_id, request.council_id, request.actor
        )
        return validation_pb2.CoSignIdeaResponse(co_signed_by=list(signed))


class InsightsApi(validation_pb2_grpc.InsightsServiceServicer):
    def __init__(self, insights: Insights) -> None:
        self._insights = insights

    async def GetOrganizationScorecard(
        self, request: validation_pb2.GetOrganizationScorecardRequest, context: Context
    ) -> validation_pb2.GetOrganizationScorecardResponse:
        violations = Violations()
        check_id(violations, "organization_id", request.organization_id)
        violations.raise_if_any()
        card = await self._insights.organization(request.tenant_id, request.organization_id)
        # The scorecard's fields are the message's, by name.
        return validation_pb2.GetOrganizationScorecardResponse(
            scorecard=domain_pb2.OrganizationScorecard(
                organization_id=request.organization_id, **dataclasses.asdict(card)
            )
        )

    async def GetTenantScorecard(
        self, request: validation_pb2.GetTenantScorecardRequest, context: Context
    ) -> validation_pb2.GetTenantScorecardResponse:
        card = await self._insights.tenant(request.tenant_id)
        return validation_pb2.GetTenantScorecardResponse(
            scorecard=domain_pb2.TenantScorecard(
                share_launched_without_override=card.share_launched_without_override,
                **dataclasses.asdict(card),
            )
        )

    async def WhatIf(
        self, request: validation_pb2.WhatIfRequest, context: Context
    ) -> validation_pb2.WhatIfResponse:
        draft = checked_policy(request.draft, "draft")
        found = await self._insights.what_if(request.tenant_id, draft)

        def verdict(v: Verdict) -> domain_pb2.IdeaVerdict:
            return domain_pb2.IdeaVerdict(
                idea_id=v.idea_id,
                holds_now=v.holds_now,
                holds_with_draft=v.holds_with_draft,
                summary=v.summary,
            )

        return validation_pb2.WhatIfResponse(
            stage=found.stage,
            would_open=[verdict(v) for v in found.would_open],
            would_close=[verdict(v) for v in found.would_close],
            unchanged=found.unchanged,
            past_advances_refused=[
                domain_pb2.RefusedAdvance(
                    idea_id=r.idea_id, decided_at=timestamp(r.decided_at), summary=r.summary
                )
                for r in found.refused
            ],
            past_advances_checked=found.checked,
        )


class PeersApi(validation_pb2_grpc.PeersServiceServicer):
    def __init__(self, peers: Peers) -> None:
        self._peers = peers

    async def ListPeers(
        self, request: validation_pb2.ListPeersRequest, context: Context
    ) -> validation_pb2.ListPeersResponse:
        violations = idea_checked(request.idea_id)
        check_id(violations, "organization_id", request.organization_id)
        violations.raise_if_any()
        found = await self._peers.peers(request.tenant_id, request.idea_id, request.organization_id)
        return validation_pb2.ListPeersResponse(
            peers=[
                domain_pb2.Peer(organization_id=p.organization_id, name=p.name, segment=p.segment)
                for p in found
            ]
        )

    async def RequestIntroduction(
        self, request: validation_pb2.RequestIntroductionRequest, context: Context
    ) -> validation_pb2.RequestIntroductionResponse:
        violations = idea_checked(request.idea_id)
        check_id(violations, "requester_organization_id", request.requester_organization_id)
        check_id(violations, "requester_member_id", request.requester_member_id)
        check_id(violations, "peer_organization_id", request.peer_organization_id)
        check_text(violations, "message", request.message, REASON_MAX)
        violations.raise_if_any()
        introduction = await self._peers.request(
            request.tenant_id,
            request.idea_id,
            request.requester_organization_id,
            request.requester_member_id,
            request.peer_organization_id,
            request.message.strip(),
        )
        return validation_pb2.RequestIntroductionResponse(introduction=introduction)

    async def AnswerIntroduction(
        self, request: validation_pb2.AnswerIntroductionRequest, context: Context
    ) -> validation_pb2.AnswerIntroductionResponse:
        violations = Violations()
        check_idea(violations, request.introduction_id, "introduction_id")
        check_id(violations, "organization_id", request.organization_id)
        violations.raise_if_any()
        introduction = await self._peers.answer(
            request.tenant_id, request.introduction_id, request.organization_id, request.accept
        )
        return validation_pb2.AnswerIntroductionResponse(introduction=introduction)

    async def ListIntroductions(
        self, request: validation_pb2.ListIntroductionsRequest, context: Context
    ) -> validation_pb2.ListIntroductionsResponse:
        violations = Violations()
        check_id(violations, "organization_id", request.organization_id)
        violations.raise_if_any()
        found = await self._peers.list(request.tenant_id, request.organization_id)
        return validation_pb2.ListIntroductionsResponse(introductions=found)


class DirectoryApi(validation_pb2_grpc.DirectoryServiceServicer):
    def __init__(
        self,
        client: AsyncMongoClient[Document],
        directory: DirectoryStore,
        reevaluator: Reevaluator,
    ) -> None:
        self._client = client
        self._directory = directory
        self._reevaluator = reevaluator

    async def UpsertOrganization(
        self, request: validation_pb2.UpsertOrganizationRequest, context: Context
    ) -> validation_pb2.UpsertOrganizationResponse:
        violations = Violations()
        organization = request.organization
        check_organization(violations, organization)
        violations.raise_if_any()
        stored = await judged_again(
            self._client,
            self._reevaluator,
            lambda session: self._directory.upsert_organization(
                session, request.tenant_id, organization
            ),
        )
        return validation_pb2.UpsertOrganizationResponse(organization=stored)

    async def GetOrganization(
        self, request: validation_pb2.GetOrganizationRequest, context: Context
    ) -> validation_pb2.GetOrganizationResponse:
        violations = Violations()
        check_id(violations, "organization_id", request.organization_id)
        violations.raise_if_any()
        found = await self._directory.get_organization(request.tenant_id, request.organization_id)
        return validation_pb2.GetOrganizationResponse(organization=found)

    async def ListOrganizations(
        self, request: validation_pb2.ListOrganizationsRequest, context: Context
    ) -> validation_pb2.ListOrganizationsResponse:
        violations = Violations()
        if request.page_size > 500:
            violations.add("page_size", "must be at most 500")
        if len(request.organization_ids) > 500:
            violations.add("organization_ids", "at most 500")
        violations.raise_if_any()
        found, token = await self._directory.list_organizations(
            request.tenant_id,
            request.page_size or 100,
            request.page_token,
            list(request.organization_ids),
        )
        return validation_pb2.ListOrganizationsResponse(organizations=found, next_page_token=token)

    async def UpsertCouncil(
        self, request: validation_pb2.UpsertCouncilRequest, context: Context
    ) -> validation_pb2.UpsertCouncilResponse:
        violations = Violations()
        council = request.council
        check_council(violations, council)
        violations.raise_if_any()
        stored = await judged_again(
            self._client,
            self._reevaluator,
            lambda session: self._directory.upsert_council(session, request.tenant_id, council),
        )
        return validation_pb2.UpsertCouncilResponse(council=stored)

    async def ListCouncils(
        self, request: validation_pb2.ListCouncilsRequest, context: Context
    ) -> validation_pb2.ListCouncilsResponse:
        return validation_pb2.ListCouncilsResponse(
            councils=await self._directory.list_councils(request.tenant_id)
        )


class PolicyApi(validation_pb2_grpc.PolicyServiceServicer):
    def __init__(
        self, client: AsyncMongoClient[Document], policies: PolicyStore, reevaluator: Reevaluator
    ) -> None:
        self._client = client
        self._policies = policies
        self._reevaluator = reevaluator

    async def GetPipeline(
        self, request: validation_pb2.GetPipelineRequest, context: Context
    ) -> validation_pb2.GetPipelineResponse:
        pipeline = await self._policies.pipeline(request.tenant_id)
        return validation_pb2.GetPipelineResponse(
            pipeline=domain_pb2.Pipeline(
                stages=list(pipeline.stages),
                policies=[policy_message(p) for p in pipeline.policies.values()],
            )
        )

    async def UpdateGatePolicy(
        self, request: validation_pb2.UpdateGatePolicyRequest, context: Context
    ) -> validation_pb2.UpdateGatePolicyResponse:
        draft = checked_policy(request.policy, "policy")
        stored = await judged_again(
            self._client,
            self._reevaluator,
            lambda session: self._policies.update_policy(session, request.tenant_id, draft),
        )
        return validation_pb2.UpdateGatePolicyResponse(policy=policy_message(stored))
