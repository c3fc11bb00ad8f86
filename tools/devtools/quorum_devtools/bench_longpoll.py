"""What-if for the bench: make the services' Kafka consumers wait after an empty fetch.

Apache Kafka holds a fetch that finds no records for up to fetch.max.wait.ms (500 ms)
and answers as soon as a record arrives. noida-db 0.2.3 answers at once, so every
idle aiokafka consumer sends thousands of fetches a second and burns a core's worth
of CPU between them (docs/benchmarks.md, "idle CPU"). With `--emulate-long-poll MS`
the bench starts the services with a sitecustomize that imports this module, and
after each fetch that brought nothing the consumer waits MS milliseconds before the
next. A record that arrives meanwhile waits up to MS longer than with real Kafka, so
latencies from such a run are slightly pessimistic; CPU and throughput are what
a long-polling broker would give. The services' code is not touched.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any


def install(delay_seconds: float) -> None:
    from aiokafka.consumer.fetcher import Fetcher

    original = Fetcher._proc_fetch_request

    async def fetch_then_wait_if_empty(
        self: Any, assignment: Any, node_id: Any, request: Any
    ) -> Any:
        before = {tp: id(result) for tp, result in self._records.items()}
        answer = await original(self, assignment, node_id, request)
        if all(before.get(tp) == id(result) for tp, result in self._records.items()):
            await asyncio.sleep(delay_seconds)
        return answer

    Fetcher._proc_fetch_request = fetch_then_wait_if_empty


def sitecustomize_folder(folder: Path, delay_seconds: float) -> Path:
    """A folder to put first on PYTHONPATH so that every service installs the wait."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(
        f"from quorum_devtools.bench_longpoll import install\ninstall({delay_seconds!r})\n"
    )
    return folder
