"""The calls of `quorum.gateway.v1.IdeasService`.

Ideas and endorsements: submit, read, list, endorse, withdraw, find similar, merge.
"""

# mypy: disable-error-code="empty-body"
# (each call is declared by its signature; quorum_client.channel.unary makes the call)

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator

from quorum.domain.v1 import domain_pb2
from quorum.gateway.v1 import gateway_pb2
from quorum_client.channel import Connection, paged, unary


class IdeasCalls(Connection):
    @unary(gateway_pb2.SubmitIdeaRequest, gateway_pb2.SubmitIdeaResponse)
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

    @unary(gateway_pb2.GetIdeaRequest, gateway_pb2.GetIdeaResponse, lambda answer: answer.idea)
    def get_idea(self, idea_id: str) -> gateway_pb2.Idea: ...

    @unary(gateway_pb2.ListEndorsementsRequest, gateway_pb2.ListEndorsementsResponse)
    def list_endorsements(
        self, idea_id: str, *, page_size: int = 0, page_token: str = ""
    ) -> gateway_pb2.ListEndorsementsResponse:
        """One page of the organizations behind an idea (a customer: only visible ones)."""

    @unary(gateway_pb2.ListIdeasRequest, gateway_pb2.ListIdeasResponse)
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

    @paged(gateway_pb2.ListIdeasRequest, gateway_pb2.ListIdeasResponse, lambda page: page.ideas)
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

    @unary(gateway_pb2.EndorseIdeaRequest, gateway_pb2.EndorseIdeaResponse)
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

    @unary(
        gateway_pb2.WithdrawEndorsementRequest,
        gateway_pb2.WithdrawEndorsementResponse,
        lambda answer: answer.idea,
    )
    def withdraw_endorsement(
        self,
        idea_id: str,
        *,
        member: domain_pb2.MemberRef | None = None,
        expected_version: int = 0,
    ) -> gateway_pb2.Idea: ...

    @unary(
        gateway_pb2.FindSimilarIdeasRequest,
        gateway_pb2.FindSimilarIdeasResponse,
        lambda answer: list(answer.similar_ideas),
    )
    def find_similar_ideas(
        self, title: str, problem: str = "", *, limit: int = 0
    ) -> list[gateway_pb2.SimilarIdea]: ...

    @unary(gateway_pb2.MergeIdeasRequest, gateway_pb2.MergeIdeasResponse)
    def merge_ideas(
        self,
        source_idea_id: str,
        target_idea_id: str,
        *,
        expected_version: int = 0,
        expected_source_version: int = 0,
    ) -> gateway_pb2.MergeIdeasResponse:
        """Merge the duplicate `source` into `target`; endorsements carry over."""

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
