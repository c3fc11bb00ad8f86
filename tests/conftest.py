"""Fixtures shared by the integration and end-to-end tests."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest
from pymongo import AsyncMongoClient

from support.servers import Servers, servers


@pytest.fixture(scope="session")
def infra() -> Iterator[Servers]:
    with servers() as found:
        yield found


@dataclass(frozen=True)
class Isolation:
    """Names no other test uses: its own topics (by prefix) and databases."""

    tag: str

    @property
    def topic_prefix(self) -> str:
        return f"t{self.tag}."

    def database(self, service: str) -> str:
        return f"t{self.tag}_{service}"

    @property
    def database_prefix(self) -> str:
        return f"t{self.tag}_"


@pytest.fixture
async def isolation(infra: Servers) -> AsyncIterator[Isolation]:
    isolated = Isolation(uuid.uuid4().hex[:12])
    yield isolated
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(infra.mongodb_uri)
    try:
        for name in await client.list_database_names():
            if name.startswith(isolated.database_prefix):
                await client.drop_database(name)
    finally:
        await client.close()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--long",
        action="store_true",
        default=False,
        help="the deeper runs (the contract fuzz test's byte-level scrambles)",
    )
    parser.addoption(
        "--chaos",
        action="store_true",
        default=False,
        help="the long fault-injection run (several faults of each kind; `make chaos`)",
    )
    parser.addoption(
        "--fault-seed",
        type=int,
        default=None,
        help="the fault-injection run's seed (its faults, their order, their moments)",
    )
