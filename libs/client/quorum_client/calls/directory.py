"""The calls of `quorum.gateway.v1.DirectoryService`.

The tenant's customer organizations and councils.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cached_property

from quorum.domain.v1 import domain_pb2
from quorum.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from quorum_client.channel import Connection


class DirectoryCalls(Connection):
    @cached_property
    def _directory(self) -> gateway_pb2_grpc.DirectoryServiceStub:
        return gateway_pb2_grpc.DirectoryServiceStub(self._channel)

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
