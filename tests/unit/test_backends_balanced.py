"""The gateway's backend channels spread calls over every replica a name resolves to."""

from __future__ import annotations

from typing import Any

import grpc

from quorum_common.grpc_server import GrpcServer
from quorum_gateway.backends import BALANCED


async def test_calls_are_spread_over_every_address_of_the_target() -> None:
    calls = {0: 0, 1: 0}
    servers = []
    for replica in calls:

        async def answer(request: bytes, context: Any, replica: int = replica) -> bytes:
            calls[replica] += 1
            return b""

        server = GrpcServer("127.0.0.1", 0, ["test.Replica"])
        server.server.add_generic_rpc_handlers(
            (
                grpc.method_handlers_generic_handler(
                    "test.Replica", {"Call": grpc.unary_unary_rpc_method_handler(answer)}
                ),
            )
        )
        await server.start()
        servers.append(server)
    # The form a headless Service resolves to: one address per replica.
    target = "ipv4:" + ",".join(f"127.0.0.1:{s.port}" for s in servers)
    try:
        async with grpc.aio.insecure_channel(target, options=BALANCED) as channel:
            call: Any = channel.unary_unary("/test.Replica/Call")
            for _ in range(20):
                await call(b"", timeout=5, wait_for_ready=True)
    finally:
        for server in servers:
            await server.stop(0)
    assert calls[0] > 0, calls
    assert calls[1] > 0, calls
