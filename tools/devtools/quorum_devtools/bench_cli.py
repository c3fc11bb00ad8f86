"""How long the `quorum` command takes to start and to make one call, as a user waits.

Each run is a fresh process (`python -m quorum_client.cli`, what the `quorum` script
runs), timed from spawn to exit: imports, argument parsing, the channel, the call.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from typing import Any

from quorum_devtools.bench_stats import median


async def _timed(arguments: list[str], env: dict[str, str]) -> float:
    began = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "quorum_client.cli",
        *arguments,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(process.communicate(), timeout=60)
    if process.returncode != 0:
        raise RuntimeError(f"quorum {' '.join(arguments)}: {err.decode().strip()}")
    return (time.perf_counter() - began) * 1000


async def cli_start(address: str, api_key: str, runs: int = 5) -> dict[str, Any]:
    """Median and each run's milliseconds of `quorum --help` and `quorum keys whoami`."""
    env = {**os.environ, "QUORUM_ADDRESS": address, "QUORUM_API_KEY": api_key}
    figures: dict[str, Any] = {"runs": runs}
    for name, arguments in (("help", ["--help"]), ("whoami", ["keys", "whoami"])):
        times = [await _timed(arguments, env) for _ in range(runs)]
        figures[name] = {"median_ms": median(times), "ms": [round(t, 1) for t in times]}
    return figures
