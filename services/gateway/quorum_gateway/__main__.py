"""`python -m quorum_gateway`: the public gRPC entry point."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from quorum.gateway.v1 import gateway_pb2, gateway_pb2_grpc
from quorum_common.grpc_server import GrpcServer
from quorum_common.runtime import run_service
from quorum_gateway.api import GatewayIdeasApi
from quorum_gateway.backends import Backends
from quorum_gateway.settings import GatewaySettings

log = logging.getLogger("quorum_gateway")
SERVICES = [s.full_name for s in gateway_pb2.DESCRIPTOR.services_by_name.values()]


async def serve(settings: GatewaySettings, stop: asyncio.Event) -> None:
    backends = Backends(
        settings.ideas_address,
        settings.validation_address,
        settings.gateway_backend_timeout_seconds,
    )
    server = GrpcServer(settings.gateway_grpc_host, settings.gateway_grpc_port, SERVICES)
    gateway_pb2_grpc.add_IdeasServiceServicer_to_server(
        GatewayIdeasApi(backends, settings.gateway_default_tenant), server.server
    )
    await server.start()
    await server.set_serving(False)

    async def health_changed(serving: bool) -> None:
        await server.set_serving(serving)
        log.info(
            "gateway %s on %s", "serving" if serving else "waiting for backends", server.address
        )

    watcher = asyncio.create_task(backends.watch_health(health_changed))
    await stop.wait()
    log.info("gateway stopping")
    watcher.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await watcher
    await server.stop()
    await backends.close()


def main() -> None:
    run_service("gateway", GatewaySettings, serve)


if __name__ == "__main__":
    main()
