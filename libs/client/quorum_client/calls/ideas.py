"""The calls of `quorum.gateway.v1.IdeasService`.

Ideas and endorsements: submit, read, list, endorse, withdraw, find similar, merge.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from functools import cached_property

from quorum.domain.v1 import domain_pb2
from quorum.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from quorum_client.channel import Connection


class IdeasCalls(Connection):
    @cached_property
    def _ideas(self) -> gateway_pb2_grpc.IdeasServiceStub:
        return gateway_pb2_grpc.IdeasServiceStub(self._channel)

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
