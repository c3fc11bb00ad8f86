"""The calls of `quorum.gateway.v1.DirectoryService`.

The tenant's customer organizations and councils.
"""

# mypy: disable-error-code="empty-body"
# (each call is declared by its signature; quorum_client.channel.unary makes the call)

from __future__ import annotations

from collections.abc import Iterator

from quorum.domain.v1 import domain_pb2
from quorum.gateway.v1 import gateway_pb2
from quorum_client.channel import Connection, paged, unary


class DirectoryCalls(Connection):
    @unary(
        gateway_pb2.UpsertOrganizationRequest,
        gateway_pb2.UpsertOrganizationResponse,
        lambda answer: answer.organization,
    )
    def upsert_organization(
        self, organization: domain_pb2.Organization
    ) -> domain_pb2.Organization: ...

    @unary(
        gateway_pb2.GetOrganizationRequest,
        gateway_pb2.GetOrganizationResponse,
        lambda answer: answer.organization,
    )
    def get_organization(self, organization_id: str) -> domain_pb2.Organization: ...

    @unary(gateway_pb2.ListOrganizationsRequest, gateway_pb2.ListOrganizationsResponse)
    def list_organizations(
        self, *, page_size: int = 0, page_token: str = ""
    ) -> gateway_pb2.ListOrganizationsResponse: ...

    @paged(
        gateway_pb2.ListOrganizationsRequest,
        gateway_pb2.ListOrganizationsResponse,
        lambda page: page.organizations,
    )
    def iter_organizations(self, *, page_size: int = 0) -> Iterator[domain_pb2.Organization]: ...

    @unary(
        gateway_pb2.UpsertCouncilRequest,
        gateway_pb2.UpsertCouncilResponse,
        lambda answer: answer.council,
    )
    def upsert_council(self, council: domain_pb2.Council) -> domain_pb2.Council: ...

    @unary(
        gateway_pb2.ListCouncilsRequest,
        gateway_pb2.ListCouncilsResponse,
        lambda answer: list(answer.councils),
    )
    def list_councils(self) -> list[domain_pb2.Council]: ...
