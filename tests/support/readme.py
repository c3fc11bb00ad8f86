"""The README's examples as a test runs them: its ```bash and ```python blocks, in order.

Conventions the README keeps (so a reader sees exactly what the test runs):

- `#> text` lines are output the README promises; consecutive ones are one sentence.
  The block's output (stdout and stderr) must contain it, whitespace aside.
- A command directly followed by a promised error (a promise that begins `Error`,
  `bootstrap:` or `Code:`, as the CLI, the bootstrap and grpcurl say one) may fail;
  any other command that exits non-zero fails the test.
- `<!-- not run: why -->` on the line before a block keeps the test from running it
  (`make run` itself, the long fuzz run); `<!-- needs: tool … -->` runs it only where
  every tool named is on the PATH.
- A Python block runs as a file with the checkout's `.venv/bin/python`, in the same
  shell, so it sees what the shell blocks exported.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

PROMISE = "#> "
ERRORS = ("Error", "bootstrap:", "Code:")
_FENCE = re.compile(r"^```(\w*)\s*$")
_NOT_RUN = re.compile(r"<!--\s*not run:\s*(.+?)\s*-->")
_NEEDS = re.compile(r"<!--\s*needs:\s*(.+?)\s*-->")


@dataclass
class Block:
    language: str
    line: int  # README line of the block's first line
    text: str
    not_run: str = ""
    needs: list[str] = field(default_factory=list)

    @property
    def promises(self) -> list[str]:
        """The promised outputs, each a run of consecutive `#>` lines joined."""
        found: list[str] = []
        run: list[str] = []
        for raw in [*self.text.splitlines(), ""]:
            stripped = raw.strip()
            if stripped.startswith(PROMISE.strip()):
                run.append(stripped[len(PROMISE.strip()) :].strip())
            elif run:
                found.append(" ".join(run))
                run = []
        return found

    def commands_that_may_fail(self) -> set[str]:
        """Commands (normalized, as bash reports them) followed by a promised error."""
        allowed: set[str] = set()
        command: list[str] = []
        for raw in self.text.splitlines():
            stripped = raw.strip()
            if stripped.startswith(PROMISE.strip()):
                promise = stripped[len(PROMISE.strip()) :].strip()
                if command and promise.startswith(ERRORS):
                    allowed.add(normalize("\n".join(command)))
                command = []
            elif not stripped or stripped.startswith("#"):
                command = []
            else:
                # A new command starts unless the previous line continues into this one.
                if command and not command[-1].endswith("\\") and _balanced(command):
                    command = []
                command.append(stripped)
        return allowed


def _balanced(lines: list[str]) -> bool:
    try:
        shlex.split(normalize("\n".join(lines)), comments=True)
    except ValueError:  # an open quote: the command goes on
        return False
    return True


def normalize(command: str) -> str:
    """One line, single spaces, line continuations and trailing comments dropped."""
    text = re.sub(r"\\\n", " ", command)
    text = re.sub(r"\s+#\s[^\n]*$", "", text, flags=re.MULTILINE)
    return " ".join(text.split())


def blocks(readme: Path) -> list[Block]:
    found: list[Block] = []
    lines = readme.read_text().splitlines()
    index = 0
    while index < len(lines):
        fence = _FENCE.match(lines[index])
        if not fence or fence.group(1) not in {"bash", "python"}:
            if fence:  # another language's block: skip to its end
                index += 1
                while index < len(lines) and not lines[index].startswith("```"):
                    index += 1
            index += 1
            continue
        before = lines[index - 1] if index else ""
        start = index + 1
        index = start
        while not lines[index].startswith("```"):
            index += 1
        not_run = _NOT_RUN.search(before)
        needs = _NEEDS.search(before)
        found.append(
            Block(
                language=fence.group(1),
                line=start + 1,
                text="\n".join(lines[start:index]) + "\n",
                not_run=not_run.group(1) if not_run else "",
                needs=needs.group(1).split() if needs else [],
            )
        )
        index += 1
    return found
