"""What the mirror says while it runs: rich lines on a terminal, one JSON object a line with
``--json`` (every object has ``event``, ``at`` and ``message``)."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.panel import Panel

STYLES = {
    "fork": "bold red",
    "error": "red",
    "warning": "yellow",
    "stale": "yellow",
    "cosigned": "green",
    "consistent": "green",
}


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class Reporter:
    def __init__(self, as_json: bool, console: Console | None = None) -> None:
        self.as_json = as_json
        # soft_wrap: no hard line breaks when piped, so keys and URLs stay whole.
        self.console = console or Console(soft_wrap=True)

    def event(self, kind: str, message: str, /, **data: Any) -> None:
        if self.as_json:
            doc = {"event": kind, "at": now(), "message": message, **data}
            sys.stdout.write(json.dumps(doc, sort_keys=True) + "\n")
            sys.stdout.flush()
            return
        style = STYLES.get(kind)
        label = f"[{style}]{kind}[/]" if style else kind
        self.console.print(f"{now()} {label} {escape(message)}")

    def alarm(self, title: str, body: str) -> None:
        """A fork: impossible to miss on a terminal (JSON readers get the ``fork`` event)."""
        if self.as_json:
            return
        if self.console.is_terminal:
            self.console.print(
                Panel(escape(body), title=f"[bold]{escape(title)}[/]", border_style="bold red")
            )
            return
        # Piped: a panel would cut long paths at the width; whole lines instead.
        self.console.print(f"[bold red]!!! {escape(title)} !!![/]")
        for line in body.splitlines():
            self.console.print(f"[bold red]!!![/] {escape(line)}" if line else "")

    def progress(self, done: int, total: int) -> None:
        if not self.as_json and self.console.is_terminal:
            self.console.print(f"  verified {done}/{total} entries", end="\r")
