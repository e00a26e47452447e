"""The ``parley`` command: parse, call the library, print, map errors to an exit code.

Every command module registers its commands on the group in :mod:`parley.cli.base`; this module
imports them all, so the group is complete before it parses anything."""

from __future__ import annotations

import sys

import click
import httpx
from rich.markup import escape

# Importing each command module registers its commands on the group.
from parley.cli import (  # noqa: F401
    alerts,
    conflicts,
    cot,
    daily,
    evidence,
    hub,
    importing,
    incidents,
    logkey,
    mirror,
    movements,
    notify,
    party,
    verify,
    witness,
)
from parley.cli.base import (
    cli,
    err,
)
from parley.errors import ParleyError


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        err.print("aborted")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except ParleyError as exc:
        tried = getattr(exc, "url", None)
        err.print(f"[red]error:[/] {escape(exc.detail)}" + (f" ({escape(tried)})" if tried else ""))
        sys.exit(1)
    except OSError as exc:
        err.print(f"[red]error:[/] {exc}")
        sys.exit(1)
    except httpx.HTTPError as exc:
        try:
            tried = f" at {exc.request.url}"
        except RuntimeError:
            tried = ""
        err.print(f"[red]error:[/] cannot reach the hub{escape(tried)}: {escape(str(exc))}")
        sys.exit(1)
