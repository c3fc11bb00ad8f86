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
from quorum_common.observability import configure_logging, configure_telemetry
from quorum_common.settings import ServiceSettings, die, load_settings

log = logging.getLogger(__name__)

S = TypeVar("S", bound=ServiceSettings)
SHUTDOWN_GRACE_SECONDS = 10.0


def loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop, or None: asyncio's own."""
    if name == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    return None


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
    try:
        # Only the standard OTEL_* variables, read by OpenTelemetry's own rules.
        telemetry = configure_telemetry(name)
    except StartupError as error:
        die(f"{name}: {error}")
        return
    # DEBUG: a service that fails to start must say one line, naming the setting.
    log.debug("%s telemetry: %s", name, telemetry.plan.describe())

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()

        def request_stop() -> None:
            if stop.is_set():
                return
            stop.set()
            # A service still starting (waiting for the broker, say) is not yet
            # waiting for `stop`: give a clean shutdown some time, then cut it short.
            if task is not None:
                loop.call_later(SHUTDOWN_GRACE_SECONDS, task.cancel)

        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, request_stop)
        try:
            await serve(settings, stop)
        except asyncio.CancelledError:
            if not stop.is_set():
                raise
            log.warning("%s stopped before it had finished starting", name)

    try:
        with asyncio.Runner(loop_factory=loop_factory(settings.event_loop)) as runner:
            runner.run(main())
    except StartupError as error:
        die(f"{name}: {error}")
    finally:
        # Export what is still buffered (the last spans, a final metric reading).
        telemetry.shutdown()
    log.info("%s stopped", name)
