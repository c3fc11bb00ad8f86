"""Process entry point shared by the services: start, serve, stop cleanly.

A service supplies an async `serve(stop)` that starts its parts, waits for `stop`
and shuts them down. Startup problems print one line naming the setting and exit 2.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import TypeVar

from quorum_common.errors import StartupError
from quorum_common.observability import configure_logging, configure_tracing
from quorum_common.settings import ServiceSettings, die, load_settings

log = logging.getLogger(__name__)

S = TypeVar("S", bound=ServiceSettings)


def run_service(
    name: str,
    settings_class: type[S],
    serve: Callable[[S, asyncio.Event], Awaitable[None]],
) -> None:
    try:
        settings = load_settings(settings_class)
    except StartupError as error:
        die(f"{name}: {error}")
        return
    configure_logging(name, settings.log_level, settings.log_format)
    configure_tracing(name, settings.otel_exporter_otlp_endpoint)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        await serve(settings, stop)

    try:
        asyncio.run(main())
    except StartupError as error:
        die(f"{name}: {error}")
    log.info("%s stopped", name)
