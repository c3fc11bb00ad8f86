"""The reference pipeline: this machine's limit for the same durable work as an endorsement.

A lean pipeline doing one endorsement's durable work with the same libraries and the
same durability (grpc.aio → one group-committed MongoDB transaction with an outbox row →
in-process relay → idempotent aiokafka producer → one batch consumer per transaction);
its README says what it measures. The bench runs it against its own broker and MongoDB
between its own measurements, so both see the same machine at the same minutes, and
reports Quorum's figures as ratios to it.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quorum_devtools.bench_platform import BenchError, Processes
from quorum_devtools.bench_stats import median

ROOT = Path(__file__).resolve().parents[3]
# tools/reference: the team's yardstick, kept as it is written (not this project's code,
# not linted) so its figures stay comparable; QUORUM_REFERENCE_DIR names another copy.
FOLDER = Path(os.environ.get("QUORUM_REFERENCE_DIR") or ROOT / "tools" / "reference")
# The reference's own deadlines (start, drain) are a minute or two; this is a backstop.
TIMEOUT_SECONDS = 600.0
POLL_SECONDS = 0.2


@dataclass(frozen=True)
class Reference:
    folder: Path
    kafka: str
    mongodb_uri: str
    out: Path  # the bench's output folder
    clients: int
    seconds: float
    rate: float
    rate_seconds: float

    @property
    def results(self) -> Path:
        return self.out / "reference.jsonl"

    def command(self) -> list[str]:
        return [
            str(self.folder / "run"),
            "--python", sys.executable,
            "--kafka", self.kafka,
            "--mongo", self.mongodb_uri,
            "--out", str(self.results),
            "--clients", str(self.clients),
            "--seconds", f"{self.seconds:g}",
            "--rate", f"{self.rate:g}",
            "--rate-seconds", f"{self.rate_seconds:g}",
        ]  # fmt: skip

    async def run_once(self, processes: Processes, repetition: int) -> dict[str, Any]:
        """One run of the reference (about 20 s at full size); its JSON object."""
        log = self.out / "logs" / f"reference-{repetition}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        lines = self._lines()
        process = self._start(log)
        processes.others.append(process)
        try:
            waited = 0.0
            # Polled, not awaited in a thread: a cancelled run must not wait for it.
            while process.poll() is None:
                if waited > TIMEOUT_SECONDS:
                    raise BenchError(f"the reference ran over {TIMEOUT_SECONDS:.0f}s; see {log}")
                await asyncio.sleep(POLL_SECONDS)
                waited += POLL_SECONDS
        finally:
            if process.poll() is not None:
                processes.others.remove(process)
        written = self._lines()[len(lines) :]
        if process.returncode != 0 or not written:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-10:])
            raise BenchError(f"the reference failed (exit code {process.returncode}):\n{tail}")
        result: dict[str, Any] = json.loads(written[-1])
        return result

    def _start(self, log: Path) -> subprocess.Popen[bytes]:
        with log.open("wb") as output:
            return subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C reaches the bench, which stops it
            )

    def _lines(self) -> list[str]:
        try:
            return self.results.read_text().splitlines()
        except FileNotFoundError:
            return []


def summarize(runs: list[dict[str, Any]], folder: Path) -> dict[str, Any]:
    """Medians over the reference's runs of the figures Quorum is compared with."""
    cpu = [run.get("cpu_ms_per_endorsement", {}) for run in runs]
    cpu_keys = sorted({key for figures in cpu for key in figures})
    return {
        "available": True,
        "folder": str(folder),
        "consumed_per_s": median(float(r["consumed_per_s"]) for r in runs),
        "accepted_per_s": median(float(r["accepted_per_s"]) for r in runs),
        "cpu_ms_per_endorsement": {
            key: median(float(f[key]) for f in cpu if key in f) for key in cpu_keys
        },
        "e2e_ms": {
            key: median(float(r["e2e_ms"][key]) for r in runs if r["e2e_ms"].get(key) is not None)
            for key in ("p50", "p95", "p99")
        },
        "rate": runs[0]["open_loop"]["rate"] if runs else None,
        "repetitions": runs,
    }


def missing(folder: Path) -> dict[str, Any]:
    return {
        "available": False,
        "folder": str(folder),
        "note": f"{folder} not found: no reference run, so no ratios to it",
    }
