"""`make run`: the whole platform on this machine, in one terminal.

Starts the local broker and MongoDB (unless already running), the four services as
separate processes, waits until each reports SERVING over gRPC health, prints where
the gateway listens, streams every log line prefixed by its service, and on Ctrl-C
stops everything it started. A second `make run` finds the lock and says so.

`QUORUM_REPLICAS=2 make run` runs two replicas of each service (`ideas`, `ideas-2`,
...): replica k listens on its service's port + 100 * (k - 1) (a gateway replica's
HTTP door on 8080 + k - 1), and the gateway balances over a backend's replicas.
"""

from __future__ import annotations

import dataclasses
import fcntl
import io
import os
import selectors
import signal
import sys
from pathlib import Path
from typing import IO

from quorum_devtools import platform, sinks
from quorum_devtools.infra import DEFAULT_DIR, InfraError, LocalInfra

COLORS = {"ideas": "36", "validation": "35", "notifications": "33", "gateway": "32", "sinks": "34"}
# Replica k of a service listens on its port + REPLICA_PORT_STEP * (k - 1).
REPLICA_PORT_STEP = 100


def _prefix(name: str) -> str:
    label = f"{name:<15}|"
    if sys.stdout.isatty():
        return f"\033[{COLORS[platform.replica_of(name)[0]]}m{label}\033[0m "
    return f"{label} "


def _replicated(settings: platform.Platform, replicas: int) -> platform.Platform:
    """Replicas after the first on fixed ports next to the defaults (see the docstring)."""
    more = range(1, replicas)
    return dataclasses.replace(
        settings,
        more_ports={
            service: [port + REPLICA_PORT_STEP * k for k in more]
            for service, port in settings.ports.items()
        },
        more_http_ports=[settings.http_port + k for k in more],
    )


def _take_lock(path: Path) -> IO[str] | None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = path.open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        owner = handle.read().strip() or "another process"
        print(f"Quorum is already running here ({owner}); stop it with Ctrl-C in its terminal.")
        return None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}")
    handle.flush()
    return handle


def main() -> int:
    wanted = os.environ.get("QUORUM_REPLICAS", "1")
    if not wanted.isdigit() or not 1 <= int(wanted) <= 9:
        print(f"run: QUORUM_REPLICAS must be 1 to 9, not {wanted!r}", file=sys.stderr)
        return 2
    replicas = int(wanted)
    lock = _take_lock(DEFAULT_DIR / "run.lock")
    if lock is None:
        return 1
    infra = LocalInfra()
    print("starting Kafka (noida-db) and MongoDB ...", flush=True)
    try:
        started_infra = infra.up()
    except InfraError as error:
        print(f"run: {error}", file=sys.stderr)
        return 1
    # Local receivers for notifications (e-mail, webhooks), printing what they get.
    receivers = sinks.BackgroundSinks(
        sinks.SMTP_PORT,
        sinks.WEBHOOK_PORT,
        sinks.WEBHOOK_SECRET,
        lambda line: print(_prefix("sinks") + line, flush=True),
    )
    if not receivers.start():
        print(f"run: notification sinks not started: {receivers.error}", file=sys.stderr)
    settings = platform.Platform(
        infra.bootstrap_servers,
        infra.mongodb_uri,
        extra_env={
            "LOG_FORMAT": os.environ.get("LOG_FORMAT", "text"),
            **sinks.service_env(receivers.smtp_port),
        },
    )
    if replicas > 1:
        settings = _replicated(settings, replicas)
    stopping = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    processes = platform.start(settings)
    streams = {p.stdout: s for s, p in processes.items() if p.stdout is not None}
    selector = selectors.DefaultSelector()
    for stream in streams:
        os.set_blocking(stream.fileno(), False)
        selector.register(stream, selectors.EVENT_READ)
    buffers: dict[IO[bytes], bytes] = dict.fromkeys(streams, b"")

    def pump(wait: float) -> None:
        for key, _ in selector.select(timeout=wait):
            stream = key.fileobj
            assert isinstance(stream, io.BufferedReader)
            chunk = stream.read() or b""
            if not chunk:
                selector.unregister(stream)
                continue
            lines = (buffers[stream] + chunk).split(b"\n")
            buffers[stream] = lines.pop()
            for line in lines:
                sys.stdout.write(_prefix(streams[stream]) + line.decode(errors="replace") + "\n")
            sys.stdout.flush()

    code = 0
    announced = False
    try:
        while not stopping:
            pump(0.2)
            exited = {s: p.poll() for s, p in processes.items() if p.poll() is not None}
            if exited:
                names = ", ".join(f"{s} (exit {c})" for s, c in exited.items())
                print(f"run: {names} stopped unexpectedly; shutting down", file=sys.stderr)
                code = 1
                break
            if not announced and all(
                platform.serving(
                    settings.address(s), 0.5, settings.credentials(platform.replica_of(s)[0])
                )
                for s in settings.names
            ):
                announced = True
                gateway = settings.address("gateway")
                tls = settings.credentials("gateway") is not None
                print(
                    f"\nQuorum is up. Gateway: {gateway} (gRPC, {'TLS' if tls else 'plaintext'})\n"
                    f"  grpcurl {'' if tls else '-plaintext '}{gateway} list\n"
                    f"  HTTP/JSON: {settings.http_url}, OpenAPI at /openapi.json\n"
                    '  in another shell, from this checkout: export PATH="$PWD/bin:$PATH", then\n'
                    "    export QUORUM_API_KEY\n"
                    "    QUORUM_API_KEY=$(quorum-bootstrap --tenant acme-software)\n"
                    "    quorum --help   (README: Calling the API)\n"
                    f"  infra: Kafka {infra.bootstrap_servers}, MongoDB {infra.mongodb_uri}\n"
                    + sinks.announcement(receivers)
                    + "Press Ctrl-C to stop.\n",
                    flush=True,
                )
    finally:
        print("\nstopping services ...", flush=True)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        platform.stop(processes)
        pump(0.1)
        receivers.stop()
        if started_infra:
            print(f"stopping {', '.join(started_infra)} ...", flush=True)
            infra.down(only=started_infra)
        print("stopped.", flush=True)
        lock.close()
    return code


if __name__ == "__main__":
    raise SystemExit(main())
