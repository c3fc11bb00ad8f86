"""A small typed client for Quorum's public gRPC API (`quorum.gateway.v1`).

One `Client` talks to one gateway with one API key; every method is one RPC of the
contract and answers with the contract's own protobuf messages, so nothing here has
to change when a field is added. Failures come out as `QuorumError`, which unpacks
the rich status the gateway sends (google.rpc.BadRequest, PreconditionFailure, the
gate report) so callers never have to parse `grpc-status-details-bin` themselves.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self, TypeVar

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from quorum.domain.v1 import domain_pb2
from quorum.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from quorum.notifications.v1 import notifications_pb2

__all__ = [
    "ADDRESS_ENV",
    "API_KEY_ENV",
    "CA_FILE_ENV",
    "DEFAULT_ADDRESS",
    "DEFAULT_TIMEOUT",
    "Client",
    "EventStream",
    "FieldViolation",
    "PreconditionViolation",
    "QuorumError",
]

DEFAULT_ADDRESS = "127.0.0.1:50051"
DEFAULT_TIMEOUT = 10.0
ADDRESS_ENV = "QUORUM_ADDRESS"
API_KEY_ENV = "QUORUM_API_KEY"
CA_FILE_ENV = "QUORUM_TLS_CA_FILE"

UNSPECIFIED_STATUS = notifications_pb2.DELIVERY_STATUS_UNSPECIFIED
_Request = TypeVar("_Request")
_Response = TypeVar("_Response")


@dataclass(frozen=True)
class FieldViolation:
    """One bad field of a request (from google.rpc.BadRequest)."""

    field: str
    description: str


@dataclass(frozen=True)
class PreconditionViolation:
    """One unmet condition (from google.rpc.PreconditionFailure), e.g. a gate criterion."""

    type: str
    subject: str
    description: str


class QuorumError(Exception):
    """A call the gateway refused or could not answer, in readable form.

    `code` is the gRPC status code; `message` the gateway's sentence. For bad input,
    `field_violations` names every offending field; for a refused advance,
    `precondition_violations` lists the unmet criteria and `gate_report` carries the
    whole report (when the gateway sent it).
    """

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        *,
        field_violations: Iterable[FieldViolation] = (),
        precondition_violations: Iterable[PreconditionViolation] = (),
        gate_report: domain_pb2.GateReport | None = None,
        retry_delay: float | None = None,
    ) -> None:
        super().__init__(f"{code.name}: {message}")
        self.code = code
        self.message = message
        self.field_violations = tuple(field_violations)
        self.precondition_violations = tuple(precondition_violations)
        self.gate_report = gate_report
        # Seconds the gateway asks the caller to wait (google.rpc.RetryInfo), e.g.
        # when a key's rate limit answered RESOURCE_EXHAUSTED.
        self.retry_delay = retry_delay

    @classmethod
    def from_rpc_error(
        cls, error: grpc.RpcError, *, address: str = "", timeout: float | None = None
    ) -> QuorumError:
        """Translate a grpc error, reading the google.rpc.Status details it carries."""
        code = error.code() or grpc.StatusCode.UNKNOWN
        message = error.details() or code.name.lower().replace("_", " ")
        status = None
        if isinstance(error, grpc.Call):
            try:
                status = rpc_status.from_call(error)
            except ValueError:
                # The details disagree with the code or message: a proxy rewrote the
                # status. The plain code and message are still the truth; keep those.
                status = None
        fields: list[FieldViolation] = []
        preconditions: list[PreconditionViolation] = []
        report: domain_pb2.GateReport | None = None
        retry_delay: float | None = None
        details: list[any_pb2.Any] = list(status.details) if status is not None else []
        for detail in details:
            if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad_request = error_details_pb2.BadRequest()
                detail.Unpack(bad_request)
                fields.extend(
                    FieldViolation(v.field, v.description) for v in bad_request.field_violations
                )
            elif detail.Is(error_details_pb2.PreconditionFailure.DESCRIPTOR):
                failure = error_details_pb2.PreconditionFailure()
                detail.Unpack(failure)
                preconditions.extend(
                    PreconditionViolation(v.type, v.subject, v.description)
                    for v in failure.violations
                )
            elif detail.Is(domain_pb2.GateReport.DESCRIPTOR):
                report = domain_pb2.GateReport()
                detail.Unpack(report)
            elif detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                retry = error_details_pb2.RetryInfo()
                detail.Unpack(retry)
                retry_delay = retry.retry_delay.ToTimedelta().total_seconds()
        if status is None and address:
            message = _transport_message(code, message, address, timeout)
        return cls(
            code,
            message,
            field_violations=fields,
            precondition_violations=preconditions,
            gate_report=report,
            retry_delay=retry_delay,
        )


def _transport_message(
    code: grpc.StatusCode, message: str, address: str, timeout: float | None
) -> str:
    """grpc's own wording for transport failures is long and cryptic; say what happened."""
    if code is grpc.StatusCode.UNAVAILABLE and "connect" in message.lower():
        # "failed to connect to all addresses; last error: ...: Connection refused (111)"
        reason = message.rsplit(": ", 1)[-1]
        return f"cannot reach the Quorum gateway at {address} ({reason})"
    if code is grpc.StatusCode.DEADLINE_EXCEEDED and timeout is not None:
        return f"no answer from the Quorum gateway at {address} within {timeout:g}s"
    return message


# Sent by the gateway as WatchEvents opens (quorum_gateway.api.WATCH_CURSOR_HEADER).
WATCH_CURSOR_HEADER = "quorum-watch-cursor"


class EventStream:
    """An open WatchEvents stream: iterate it; `cursor` is the last one received.

    Closing it (or leaving its `with` block) cancels the call. Resume later with
    `Client.watch_events(cursor=stream.cursor)`: the gateway promises no gap and no
    duplicate across a reconnect.
    """

    def __init__(
        self,
        call: grpc._CallIterator[gateway_pb2.WatchEventsResponse],
        cursor: str,
        address: str,
    ) -> None:
        self._call = call
        self._address = address
        self._closed = False
        self.cursor = cursor

    def __iter__(self) -> Iterator[gateway_pb2.WatchEventsResponse]:
        try:
            for answer in self._call:
                self.cursor = answer.cursor
                yield answer
        except grpc.RpcError as error:
            if self._closed and error.code() is grpc.StatusCode.CANCELLED:
                return
            raise QuorumError.from_rpc_error(error, address=self._address) from error

    def opened_after(self) -> str | None:
        """The cursor the gateway opened this stream after; None if it never opened.

        Call it once the stream has ended (it waits for the headers otherwise).
        """
        for key, value in self._call.initial_metadata() or ():
            if key == WATCH_CURSOR_HEADER and isinstance(value, str):
                return value
        return None

    def close(self) -> None:
        self._closed = True
        self._call.cancel()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _channel(address: str, tls: bool, ca_file: str | None) -> grpc.Channel:
    """Plaintext (local runs), or TLS checked against `ca_file` or the system's CAs.

    Raises OSError when the CA file cannot be read."""
    if not tls:
        return grpc.insecure_channel(address)
    root = Path(ca_file).read_bytes() if ca_file else None
    return grpc.secure_channel(address, grpc.ssl_channel_credentials(root_certificates=root))


class Client:
    """Quorum's public API over one channel, authenticated by one API key.

    `timeout` (seconds) bounds every unary call; the gateway propagates it to the
    services behind it. Use as a context manager, or call `close()`.
    """

    def __init__(
        self,
        address: str = DEFAULT_ADDRESS,
        api_key: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        *,
        tls: bool = False,
        ca_file: str | None = None,
        channel: grpc.Channel | None = None,
    ) -> None:
        self.address = address
        self.timeout = timeout
        # A CA to check the gateway's certificate against (else QUORUM_TLS_CA_FILE)
        # implies TLS; TLS without one trusts the system's CAs. "" means none, whatever
        # the environment says.
        self.ca_file = (ca_file if ca_file is not None else os.environ.get(CA_FILE_ENV)) or None
        self.tls = tls or self.ca_file is not None
        if channel is None:
            channel = _channel(address, self.tls, self.ca_file)
        self._channel = channel
        # No key, no header: the gateway then answers UNAUTHENTICATED with its own
        # words, which is clearer than anything guessed here.
        self._metadata: tuple[tuple[str, str | bytes], ...] = (
            (("authorization", f"Bearer {api_key}"),) if api_key else ()
        )
        self._ideas = gateway_pb2_grpc.IdeasServiceStub(channel)
        self._gates = gateway_pb2_grpc.GatesServiceStub(channel)
        self._insights = gateway_pb2_grpc.InsightsServiceStub(channel)
        self._peers = gateway_pb2_grpc.PeersServiceStub(channel)
        self._directory = gateway_pb2_grpc.DirectoryServiceStub(channel)
        self._policies = gateway_pb2_grpc.PolicyServiceStub(channel)
        self._access = gateway_pb2_grpc.AccessServiceStub(channel)
        self._events = gateway_pb2_grpc.EventsServiceStub(channel)
        self._notifications = gateway_pb2_grpc.NotificationsServiceStub(channel)
        self._inbound = gateway_pb2_grpc.InboundServiceStub(channel)

    @classmethod
    def from_env(cls, timeout: float = DEFAULT_TIMEOUT) -> Client:
        """QUORUM_ADDRESS (default 127.0.0.1:50051) and QUORUM_API_KEY."""
        return cls(
            os.environ.get(ADDRESS_ENV) or DEFAULT_ADDRESS,
            os.environ.get(API_KEY_ENV) or None,
            timeout,
        )

    def with_key(self, api_key: str) -> Client:
        """Another client for the same gateway acting with another key (own channel)."""
        return Client(self.address, api_key, self.timeout, tls=self.tls, ca_file=self.ca_file)

    def close(self) -> None:
        self._channel.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _call(
        self, method: grpc.UnaryUnaryMultiCallable[_Request, _Response], request: _Request
    ) -> _Response:
        try:
            return method(request, timeout=self.timeout, metadata=self._metadata)
        except grpc.RpcError as error:
            raise QuorumError.from_rpc_error(
                error, address=self.address, timeout=self.timeout
            ) from error

    # --- ideas -------------------------------------------------------------------

    def submit_idea(
        self,
        title: str,
        problem: str,
        *,
        product_area: str,
        tags: Iterable[str] = (),
        source_channel: domain_pb2.SourceChannel.ValueType = domain_pb2.SOURCE_CHANNEL_API,
        submitted_by: domain_pb2.MemberRef | None = None,
        importance: domain_pb2.Importance.ValueType = domain_pb2.IMPORTANCE_IMPORTANT,
        impact: str = "",
        commitments: Iterable[domain_pb2.Commitment.ValueType] = (),
        request_id: str = "",
    ) -> gateway_pb2.SubmitIdeaResponse:
        """Submit an idea (with its submitter's endorsement); likely duplicates come back.

        `submitted_by` may be left out with a CUSTOMER key (the key is the member).
        `request_id` makes retries safe: the same id returns the same idea.
        """
        return self._call(
            self._ideas.SubmitIdea,
            gateway_pb2.SubmitIdeaRequest(
                title=title,
                problem=problem,
                product_area=product_area,
                tags=list(tags),
                source_channel=source_channel,
                submitted_by=submitted_by,
                importance=importance,
                impact=impact,
                commitments=list(commitments),
                request_id=request_id,
            ),
        )

    def get_idea(self, idea_id: str) -> gateway_pb2.Idea:
        return self._call(self._ideas.GetIdea, gateway_pb2.GetIdeaRequest(idea_id=idea_id)).idea

    def list_endorsements(
        self, idea_id: str, *, page_size: int = 0, page_token: str = ""
    ) -> gateway_pb2.ListEndorsementsResponse:
        """One page of the organizations behind an idea (a customer: only visible ones)."""
        return self._call(
            self._ideas.ListEndorsements,
            gateway_pb2.ListEndorsementsRequest(
                idea_id=idea_id, page_size=page_size, page_token=page_token
            ),
        )

    def list_ideas(
        self,
        *,
        stage: str = "",
        status: domain_pb2.IdeaStatus.ValueType = domain_pb2.IDEA_STATUS_UNSPECIFIED,
        product_area: str = "",
        tag: str = "",
        page_size: int = 0,
        page_token: str = "",
    ) -> gateway_pb2.ListIdeasResponse:
        """One page of ideas, newest first; pass next_page_token back for the next."""
        return self._call(
            self._ideas.ListIdeas,
            gateway_pb2.ListIdeasRequest(
                stage=stage,
                status=status,
                product_area=product_area,
                tag=tag,
                page_size=page_size,
                page_token=page_token,
            ),
        )

    def iter_ideas(
        self,
        *,
        stage: str = "",
        status: domain_pb2.IdeaStatus.ValueType = domain_pb2.IDEA_STATUS_UNSPECIFIED,
        product_area: str = "",
        tag: str = "",
        page_size: int = 100,
    ) -> Iterator[gateway_pb2.Idea]:
        """Every matching idea, fetching pages as needed."""
        token = ""
        while True:
            page = self.list_ideas(
                stage=stage,
                status=status,
                product_area=product_area,
                tag=tag,
                page_size=page_size,
                page_token=token,
            )
            yield from page.ideas
            token = page.next_page_token
            if not token:
                return

    def endorse_idea(
        self,
        idea_id: str,
        *,
        member: domain_pb2.MemberRef | None = None,
        importance: domain_pb2.Importance.ValueType = domain_pb2.IMPORTANCE_UNSPECIFIED,
        impact: str = "",
        commitments: Iterable[domain_pb2.Commitment.ValueType] = (),
        expected_version: int = 0,
    ) -> gateway_pb2.EndorseIdeaResponse:
        """Endorse for the member's organization; `changed` is False for a repeat."""
        return self._call(
            self._ideas.EndorseIdea,
            gateway_pb2.EndorseIdeaRequest(
                idea_id=idea_id,
                member=member,
                importance=importance,
                impact=impact,
                commitments=list(commitments),
                expected_version=expected_version,
            ),
        )

    def withdraw_endorsement(
        self,
        idea_id: str,
        *,
        member: domain_pb2.MemberRef | None = None,
        expected_version: int = 0,
    ) -> gateway_pb2.Idea:
        return self._call(
            self._ideas.WithdrawEndorsement,
            gateway_pb2.WithdrawEndorsementRequest(
                idea_id=idea_id, member=member, expected_version=expected_version
            ),
        ).idea

    def find_similar_ideas(
        self, title: str, problem: str = "", *, limit: int = 0
    ) -> list[gateway_pb2.SimilarIdea]:
        answer = self._call(
            self._ideas.FindSimilarIdeas,
            gateway_pb2.FindSimilarIdeasRequest(title=title, problem=problem, limit=limit),
        )
        return list(answer.similar_ideas)

    def merge_ideas(
        self,
        source_idea_id: str,
        target_idea_id: str,
        *,
        expected_version: int = 0,
        expected_source_version: int = 0,
    ) -> gateway_pb2.MergeIdeasResponse:
        """Merge the duplicate `source` into `target`; endorsements carry over."""
        return self._call(
            self._ideas.MergeIdeas,
            gateway_pb2.MergeIdeasRequest(
                source_idea_id=source_idea_id,
                target_idea_id=target_idea_id,
                expected_version=expected_version,
                expected_source_version=expected_source_version,
            ),
        )

    def wait_for_idea(
        self,
        idea_id: str,
        until: Callable[[gateway_pb2.Idea], bool],
        *,
        within: float = 30.0,
        interval: float = 0.1,
    ) -> gateway_pb2.Idea:
        """Poll GetIdea until `until(idea)` holds; TimeoutError after `within` seconds.

        Stages and gate verdicts follow endorsements through Kafka, so right after a
        write they lag by a few milliseconds; a PDP tool that wants to act on them
        waits like this instead of sleeping a guessed amount.
        """
        deadline = time.monotonic() + within
        while True:
            idea = self.get_idea(idea_id)
            if until(idea):
                return idea
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"idea {idea_id} did not reach the expected state within {within:g}s "
                    f"(stage {idea.stage or 'not yet recorded'}, "
                    f"{idea.organization_count} organizations, "
                    f"gate into {idea.next_stage or '-'} "
                    f"{'holds' if idea.next_gate_holds else 'does not hold'})"
                )
            time.sleep(interval)

    # --- gates -------------------------------------------------------------------

    def get_gate_report(self, idea_id: str) -> gateway_pb2.GetGateReportResponse:
        return self._call(
            self._gates.GetGateReport, gateway_pb2.GetGateReportRequest(idea_id=idea_id)
        )

    def advance_stage(
        self, idea_id: str, target_stage: str, *, expected_version: int = 0
    ) -> gateway_pb2.AdvanceStageResponse:
        """Move to the next stage; a gate that does not hold raises FAILED_PRECONDITION
        with the unmet criteria (and the report) on the QuorumError."""
        return self._call(
            self._gates.AdvanceStage,
            gateway_pb2.AdvanceStageRequest(
                idea_id=idea_id, target_stage=target_stage, expected_version=expected_version
            ),
        )

    def decline_idea(
        self, idea_id: str, reason: str, *, expected_version: int = 0
    ) -> gateway_pb2.DeclineIdeaResponse:
        return self._call(
            self._gates.DeclineIdea,
            gateway_pb2.DeclineIdeaRequest(
                idea_id=idea_id, reason=reason, expected_version=expected_version
            ),
        )

    def cast_council_vote(
        self,
        idea_id: str,
        council_id: str,
        organization_id: str = "",
        *,
        approve: bool,
        comment: str = "",
    ) -> gateway_pb2.CastCouncilVoteResponse:
        """A council member organization's vote on the idea's next gate (changeable
        until the idea advances); `organization_id` is implied by a CUSTOMER key."""
        return self._call(
            self._gates.CastCouncilVote,
            gateway_pb2.CastCouncilVoteRequest(
                idea_id=idea_id,
                council_id=council_id,
                organization_id=organization_id,
                approve=approve,
                comment=comment,
            ),
        )

    def override_stage(
        self, idea_id: str, target_stage: str, justification: str, *, expected_version: int = 0
    ) -> gateway_pb2.OverrideStageResponse:
        """VENDOR_ADMIN: move past a gate that does not hold (justification ≥ 20
        characters); recorded for good, counted on the scorecard, announced."""
        return self._call(
            self._gates.OverrideStage,
            gateway_pb2.OverrideStageRequest(
                idea_id=idea_id,
                target_stage=target_stage,
                justification=justification,
                expected_version=expected_version,
            ),
        )

    def co_sign_idea(self, idea_id: str, council_id: str) -> list[str]:
        """A council backs an idea; the answer is every council now backing it."""
        answer = self._call(
            self._gates.CoSignIdea,
            gateway_pb2.CoSignIdeaRequest(idea_id=idea_id, council_id=council_id),
        )
        return list(answer.co_signed_by)

    # --- insights ----------------------------------------------------------------

    def get_organization_scorecard(
        self, organization_id: str = ""
    ) -> domain_pb2.OrganizationScorecard:
        """An organization's record; empty id with a CUSTOMER key: its own."""
        return self._call(
            self._insights.GetOrganizationScorecard,
            gateway_pb2.GetOrganizationScorecardRequest(organization_id=organization_id),
        ).scorecard

    def get_tenant_scorecard(self) -> domain_pb2.TenantScorecard:
        return self._call(
            self._insights.GetTenantScorecard, gateway_pb2.GetTenantScorecardRequest()
        ).scorecard

    def what_if(self, draft: domain_pb2.GatePolicy) -> gateway_pb2.WhatIfResponse:
        """Judge a draft policy against current ideas and past advances; changes nothing."""
        return self._call(self._insights.WhatIf, gateway_pb2.WhatIfRequest(draft=draft))

    # --- peers -------------------------------------------------------------------

    def list_peers(self, idea_id: str, organization_id: str = "") -> list[domain_pb2.Peer]:
        """Opted-in organizations that back the same idea (an INTEGRATION key names
        which of its organizations asks)."""
        answer = self._call(
            self._peers.ListPeers,
            gateway_pb2.ListPeersRequest(idea_id=idea_id, organization_id=organization_id),
        )
        return list(answer.peers)

    def request_introduction(
        self, idea_id: str, peer_organization_id: str, message: str = ""
    ) -> domain_pb2.Introduction:
        return self._call(
            self._peers.RequestIntroduction,
            gateway_pb2.RequestIntroductionRequest(
                idea_id=idea_id, peer_organization_id=peer_organization_id, message=message
            ),
        ).introduction

    def answer_introduction(
        self, introduction_id: str, *, accept: bool, organization_id: str = ""
    ) -> domain_pb2.Introduction:
        return self._call(
            self._peers.AnswerIntroduction,
            gateway_pb2.AnswerIntroductionRequest(
                introduction_id=introduction_id, accept=accept, organization_id=organization_id
            ),
        ).introduction

    def list_introductions(self, organization_id: str = "") -> list[domain_pb2.Introduction]:
        answer = self._call(
            self._peers.ListIntroductions,
            gateway_pb2.ListIntroductionsRequest(organization_id=organization_id),
        )
        return list(answer.introductions)

    # --- directory ---------------------------------------------------------------

    def upsert_organization(self, organization: domain_pb2.Organization) -> domain_pb2.Organization:
        return self._call(
            self._directory.UpsertOrganization,
            gateway_pb2.UpsertOrganizationRequest(organization=organization),
        ).organization

    def get_organization(self, organization_id: str) -> domain_pb2.Organization:
        return self._call(
            self._directory.GetOrganization,
            gateway_pb2.GetOrganizationRequest(organization_id=organization_id),
        ).organization

    def list_organizations(
        self, *, page_size: int = 0, page_token: str = ""
    ) -> gateway_pb2.ListOrganizationsResponse:
        return self._call(
            self._directory.ListOrganizations,
            gateway_pb2.ListOrganizationsRequest(page_size=page_size, page_token=page_token),
        )

    def iter_organizations(self, *, page_size: int = 0) -> Iterator[domain_pb2.Organization]:
        token = ""
        while True:
            page = self.list_organizations(page_size=page_size, page_token=token)
            yield from page.organizations
            token = page.next_page_token
            if not token:
                return

    def upsert_council(self, council: domain_pb2.Council) -> domain_pb2.Council:
        return self._call(
            self._directory.UpsertCouncil, gateway_pb2.UpsertCouncilRequest(council=council)
        ).council

    def list_councils(self) -> list[domain_pb2.Council]:
        answer = self._call(self._directory.ListCouncils, gateway_pb2.ListCouncilsRequest())
        return list(answer.councils)

    # --- policies ----------------------------------------------------------------

    def get_pipeline(self) -> domain_pb2.Pipeline:
        return self._call(self._policies.GetPipeline, gateway_pb2.GetPipelineRequest()).pipeline

    def update_gate_policy(self, policy: domain_pb2.GatePolicy) -> domain_pb2.GatePolicy:
        """Store a new version of the gate into `policy.stage` (the version is assigned)."""
        return self._call(
            self._policies.UpdateGatePolicy, gateway_pb2.UpdateGatePolicyRequest(policy=policy)
        ).policy

    # --- access ------------------------------------------------------------------

    def create_api_key(
        self,
        *,
        principal_id: str,
        display_name: str,
        role: gateway_pb2.Role.ValueType,
        organization_id: str = "",
        member_id: str = "",
        organization_ids: Iterable[str] = (),
    ) -> gateway_pb2.CreateApiKeyResponse:
        """Create a key; `secret` in the answer is shown this once and never again."""
        return self._call(
            self._access.CreateApiKey,
            gateway_pb2.CreateApiKeyRequest(
                principal_id=principal_id,
                display_name=display_name,
                role=role,
                organization_id=organization_id,
                member_id=member_id,
                organization_ids=list(organization_ids),
            ),
        )

    def list_api_keys(self, *, include_revoked: bool = False) -> list[gateway_pb2.ApiKey]:
        request = gateway_pb2.ListApiKeysRequest(include_revoked=include_revoked)
        answer = self._call(self._access.ListApiKeys, request)
        return list(answer.keys)

    def revoke_api_key(self, key_id: str) -> gateway_pb2.ApiKey:
        return self._call(
            self._access.RevokeApiKey, gateway_pb2.RevokeApiKeyRequest(key_id=key_id)
        ).key

    def who_am_i(self) -> gateway_pb2.WhoAmIResponse:
        return self._call(self._access.WhoAmI, gateway_pb2.WhoAmIRequest())

    # --- notifications -----------------------------------------------------------

    def create_subscription(
        self, subscription: notifications_pb2.Subscription
    ) -> notifications_pb2.Subscription:
        """Subscribe; a webhook's generated secret is in the answer, and only there."""
        return self._call(
            self._notifications.CreateSubscription,
            gateway_pb2.CreateSubscriptionRequest(subscription=subscription),
        ).subscription

    def list_subscriptions(
        self,
        subscriber: domain_pb2.Subscriber | None = None,
        page_size: int = 0,
        page_token: str = "",
    ) -> gateway_pb2.ListSubscriptionsResponse:
        request = gateway_pb2.ListSubscriptionsRequest(page_size=page_size, page_token=page_token)
        if subscriber is not None:
            request.subscriber.CopyFrom(subscriber)
        return self._call(self._notifications.ListSubscriptions, request)

    def delete_subscription(self, subscription_id: str) -> int:
        """Ends a subscription; returns how many pending deliveries were cancelled."""
        return self._call(
            self._notifications.DeleteSubscription,
            gateway_pb2.DeleteSubscriptionRequest(subscription_id=subscription_id),
        ).cancelled_deliveries

    def list_deliveries(
        self,
        *,
        idea_id: str = "",
        subscription_id: str = "",
        status: notifications_pb2.DeliveryStatus.ValueType = UNSPECIFIED_STATUS,
        page_size: int = 0,
        page_token: str = "",
    ) -> gateway_pb2.ListDeliveriesResponse:
        return self._call(
            self._notifications.ListDeliveries,
            gateway_pb2.ListDeliveriesRequest(
                idea_id=idea_id,
                subscription_id=subscription_id,
                status=status,
                page_size=page_size,
                page_token=page_token,
            ),
        )

    def rotate_webhook_secret(
        self, subscription_id: str, *, secret: str = "", previous_valid_seconds: int = 0
    ) -> notifications_pb2.Subscription:
        """A new signing secret (in the answer only); the previous one signs too for a while."""
        return self._call(
            self._notifications.RotateWebhookSecret,
            gateway_pb2.RotateWebhookSecretRequest(
                subscription_id=subscription_id,
                secret=secret,
                previous_valid_seconds=previous_valid_seconds,
            ),
        ).subscription

    def end_webhook_secret_rollover(self, subscription_id: str) -> notifications_pb2.Subscription:
        return self._call(
            self._notifications.EndWebhookSecretRollover,
            gateway_pb2.EndWebhookSecretRolloverRequest(subscription_id=subscription_id),
        ).subscription

    # --- inbound webhooks ---------------------------------------------------------

    def create_inbound_endpoint(
        self, endpoint: gateway_pb2.InboundEndpoint
    ) -> gateway_pb2.InboundEndpoint:
        """The endpoint with its signing secret (shown only now)."""
        return self._call(
            self._inbound.CreateInboundEndpoint,
            gateway_pb2.CreateInboundEndpointRequest(endpoint=endpoint),
        ).endpoint

    def list_inbound_endpoints(self) -> list[gateway_pb2.InboundEndpoint]:
        return list(
            self._call(
                self._inbound.ListInboundEndpoints, gateway_pb2.ListInboundEndpointsRequest()
            ).endpoints
        )

    def delete_inbound_endpoint(self, endpoint_id: str) -> None:
        self._call(
            self._inbound.DeleteInboundEndpoint,
            gateway_pb2.DeleteInboundEndpointRequest(endpoint_id=endpoint_id),
        )

    # --- events ------------------------------------------------------------------

    def watch_events(
        self,
        *,
        idea_id: str = "",
        kinds: Iterable[str] = (),
        cursor: str = "",
        timeout: float | None = None,
    ) -> EventStream:
        """Stream the tenant's events from `cursor` ("" from now, "0" from the oldest kept).

        `kinds` are payload type names such as "GateOpened". The stream has no deadline
        unless `timeout` is given; when that runs out the stream ends with
        DEADLINE_EXCEEDED.
        """
        call = self._events.WatchEvents(
            gateway_pb2.WatchEventsRequest(idea_id=idea_id, kinds=list(kinds), cursor=cursor),
            timeout=timeout,
            metadata=self._metadata,
        )
        return EventStream(call, cursor, self.address)
