"""The platform's processes under a fault test's control: SIGKILL, restart, fault points.

Every replica (platform.py names them `ideas`, `ideas-2`, ...) is a process of its own
logging to `<folder>/<name>.log`, appended to across its restarts. A restart is timed
from the new process's start until it reports SERVING on gRPC health: that is the
"back after" the fault tests report, and it must stay within `back_within` seconds.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from quorum_devtools import platform


@dataclass
class Harness:
    settings: platform.Platform
    folder: Path
    back_within: float
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    logs: dict[str, IO[bytes]] = field(default_factory=dict)

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")

    def kill(self, names: Iterable[str]) -> None:
        """SIGKILL these replicas and reap them (nothing of theirs runs afterwards)."""
        killed = [self.processes[name] for name in names]
        for process in killed:
            process.send_signal(signal.SIGKILL)
        for process in killed:
            process.wait()

    def stop(self, name: str) -> int:
        """Stop one replica cleanly (SIGTERM); its exit code."""
        return platform.stop({name: self.processes[name]})[name]

    def start(self, names: Iterable[str], extra_env: Mapping[str, str] | None = None) -> float:
        """Start these replicas (again) at once; seconds until the last one is SERVING."""
        began = time.monotonic()
        started = list(names)
        for name in started:
            self.processes[name] = platform.start_service(
                self.settings, name, self.logs[name], extra_env
            )
        deadline = began + self.back_within
        for name in started:
            while not platform.serving(self.settings.address(name), timeout=1.0):
                assert self.processes[name].poll() is None, f"{name} exited after its start"
                assert time.monotonic() < deadline, (
                    f"{name} not SERVING within {self.back_within:g} s of its start\n"
                    + self.tail(name)
                )
                time.sleep(0.05)
        return round(time.monotonic() - began, 2)

    def wait_exit(self, name: str, within: float) -> int:
        """The exit code of a replica expected to end by itself (a fault point)."""
        try:
            return self.processes[name].wait(timeout=within)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{name} still running after {within:g} s") from None

    def exited(self) -> dict[str, int]:
        """Replicas that ended without the test ending them (none should)."""
        return {
            name: code
            for name, process in self.processes.items()
            if (code := process.poll()) is not None
        }

    def tail(self, name: str, lines: int = 20) -> str:
        return f"--- {name} ---\n" + "\n".join(self.log(name).splitlines()[-lines:])

    def tails(self) -> str:
        return "\n".join(self.tail(name) for name in self.settings.names)


@contextmanager
def running(
    settings: platform.Platform, folder: Path, back_within: float, start_within: float = 90.0
) -> Iterator[Harness]:
    """Every replica started and SERVING; every one stopped at the end (SIGTERM)."""
    harness = Harness(settings, folder, back_within)
    harness.logs = {name: (folder / f"{name}.log").open("ab") for name in settings.names}
    try:
        harness.processes = platform.start(settings, output=harness.logs)
        platform.wait_serving(settings, harness.processes, timeout=start_within)
        yield harness
    finally:
        platform.stop(harness.processes)
        for handle in harness.logs.values():
            handle.close()
