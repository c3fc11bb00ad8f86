"""What the machine charges for the units an endorsement is made of, measured in the run.

Half of every service's CPU goes to work that scales with the number of messages (the
profiles in docs/benchmarks.md): MongoDB commands, committed transactions, gRPC round
trips. This section prices each unit on this run's own servers, so the pipeline's
counts (commands and transactions per endorsement, gRPC hops) can be turned into what
the messages alone cost, beside what was measured:

- mongod's CPU per command: `find_one` by `_id`, four callers at once;
- mongod's CPU per committed transaction of one insert, and per further command
  inside a transaction (eight inserts against one);
- CPU per gRPC unary round trip on the services' event loop, client and server
  (the bare server of the gateway section, answering a small GetIdea).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
from pymongo import AsyncMongoClient

from quorum.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from quorum_devtools.bench_platform import Processes, cpu_seconds, start_echo

CALLERS = 4
GRPC_CONCURRENCY = 32


async def _mongod_ms_per(pid: int, units: int, one: Callable[[], Awaitable[None]]) -> float:
    """mongod's CPU milliseconds per call of `one`, `units` calls by CALLERS at once."""

    async def caller() -> None:
        for _ in range(units // CALLERS):
            await one()

    before = cpu_seconds(pid)
    await asyncio.gather(*(caller() for _ in range(CALLERS)))
    after = cpu_seconds(pid)
    if before is None or after is None:
        raise RuntimeError("mongod's CPU clock could not be read")
    return round(float(after - before) * 1000 / units, 3)


async def mongod_costs(mongodb_uri: str, database: str, pid: int, calls: int) -> dict[str, float]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb_uri)
    try:
        collection = client[database]["unit_costs"]
        await collection.insert_one({"_id": "known"})

        async def find() -> None:
            await collection.find_one({"_id": "known"})

        def transaction(inserts: int) -> Callable[[], Awaitable[None]]:
            async def one() -> None:
                async with client.start_session() as session:

                    async def body(session: Any) -> None:
                        for _ in range(inserts):
                            await collection.insert_one({"_id": uuid.uuid4().hex}, session=session)

                    await session.with_transaction(body)

            return one

        command = await _mongod_ms_per(pid, calls, find)
        one_insert = await _mongod_ms_per(pid, calls, transaction(1))
        eight_inserts = await _mongod_ms_per(pid, max(CALLERS, calls // 4), transaction(8))
        await collection.drop()
    finally:
        await client.close()
    per_command_in_transaction = round((eight_inserts - one_insert) / 7, 3)
    return {
        "command_ms": command,
        "command_in_transaction_ms": per_command_in_transaction,
        # The commit's own share: a one-insert transaction less its insert.
        "transaction_ms": round(one_insert - per_command_in_transaction, 3),
    }


async def grpc_round_trip(
    workdir: Path, processes: Processes, event_loop: str, seconds: float
) -> dict[str, float]:
    """CPU per unary round trip: the bare server's and this (client) process's."""
    answer = gateway_pb2.GetIdeaResponse(idea=gateway_pb2.Idea(id="unit-costs"))
    response_file = workdir / "unit-costs-response.bin"
    response_file.write_bytes(answer.SerializeToString())
    address = await asyncio.to_thread(start_echo, response_file, processes, event_loop)
    server = processes.others[-1]
    channel = grpc.aio.insecure_channel(address)
    stub = gateway_pb2_grpc.IdeasServiceStub(channel)
    request = gateway_pb2.GetIdeaRequest(idea_id="unit-costs")
    calls = 0
    try:
        await stub.GetIdea(request)
        deadline = time.monotonic() + seconds

        async def caller() -> None:
            nonlocal calls
            while time.monotonic() < deadline:
                await stub.GetIdea(request)
                calls += 1

        server_before, client_before = cpu_seconds(server.pid), time.process_time()
        await asyncio.gather(*(caller() for _ in range(GRPC_CONCURRENCY)))
        server_after, client_after = cpu_seconds(server.pid), time.process_time()
    finally:
        await channel.close()
        server.terminate()
    if server_before is None or server_after is None or not calls:
        raise RuntimeError("the bare server's CPU clock could not be read")
    server_ms = (server_after - server_before) * 1000 / calls
    client_ms = (client_after - client_before) * 1000 / calls
    return {
        "server_ms": round(server_ms, 3),
        "client_ms": round(client_ms, 3),
        "round_trip_ms": round(server_ms + client_ms, 3),
    }


def mongod_at_prices(commands: dict[str, float], mongod: dict[str, float]) -> float:
    """mongod's CPU ms per endorsement that the pipeline's commands and transactions cost.

    Commands inside and outside transactions are priced alike, at the dearer of the two
    figures. The messages' overhead only: the documents and index entries they carry
    cost mongod more on top (measured: about three quarters of its share).
    """
    per_command = max(mongod.get("command_ms", 0.0), mongod.get("command_in_transaction_ms", 0.0))
    return round(
        commands.get("total", 0.0) * per_command
        + commands.get("transactions", 0.0) * mongod.get("transaction_ms", 0.0),
        3,
    )
