"""MongoDB wiring: one client per process, one database per service, transactions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pymongo import AsyncMongoClient
from pymongo.asynchronous.client_session import AsyncClientSession
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import (
    CollectionInvalid,
    ConfigurationError,
    InvalidURI,
    OperationFailure,
    PyMongoError,
)
from pymongo.read_concern import ReadConcern
from pymongo.write_concern import WriteConcern

from quorum_common.errors import StartupError

T = TypeVar("T")
Document = dict[str, Any]


async def connect(uri: str, timeout_seconds: float) -> AsyncMongoClient[Document]:
    """A client that has answered a ping and sits on a replica set primary.

    Raises StartupError naming MONGODB_URI, so a wrong URI costs one readable line.
    """
    timeout_ms = int(timeout_seconds * 1000)
    try:
        client: AsyncMongoClient[Document] = AsyncMongoClient(
            uri,
            serverSelectionTimeoutMS=timeout_ms,
            connectTimeoutMS=timeout_ms,
            tz_aware=True,
            appname="quorum",
        )
    except (ConfigurationError, InvalidURI, ValueError) as error:
        raise StartupError(f"MONGODB_URI: {error}") from None
    try:
        hello = await client.admin.command("hello")
    except PyMongoError as error:
        await client.close()
        raise StartupError(
            f"MONGODB_URI: no MongoDB answered within {timeout_seconds:g}s ({type(error).__name__})"
        ) from None
    if not hello.get("setName"):
        await client.close()
        raise StartupError(
            "MONGODB_URI: the server is not a replica set member; "
            "transactions need one (add ?replicaSet=...)"
        )
    return client


async def in_transaction(
    client: AsyncMongoClient[Document], work: Callable[[AsyncClientSession], Awaitable[T]]
) -> T:
    """Run `work` in a majority-committed transaction, retrying transient errors.

    Every state change and the events it owes go through here together.
    """
    async with client.start_session() as session:
        return await session.with_transaction(
            work,
            read_concern=ReadConcern("snapshot"),
            write_concern=WriteConcern("majority"),
        )


# The server's answer to creating a collection that another client just created.
NAMESPACE_EXISTS = 48


async def ensure_indexes(database: AsyncDatabase[Document], specs: dict[str, list[Any]]) -> None:
    """Create each collection's indexes; `specs` maps collection → IndexModel list."""
    existing = set(await database.list_collection_names())
    for name, models in specs.items():
        # Collections must exist before a transaction writes to them (MongoDB 6 rule).
        if name not in existing:
            # Replicas starting together race to create it: whoever does, it exists.
            try:
                await database.create_collection(name)
            except CollectionInvalid:
                pass
            except OperationFailure as error:
                if error.code != NAMESPACE_EXISTS:
                    raise
        if models:
            await database[name].create_indexes(models)
