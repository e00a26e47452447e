"""Bearer-token authentication, shared by every route that needs a party."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from parley.hub.core import Hub
from parley.store.db import Party


def hub_of(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def source_of(request: Request) -> str | None:
    """The client's address, which refused authentications are counted by."""
    return request.client.host if request.client else None


async def current_party(request: Request) -> Party:
    # async: a synchronous dependency costs every request a hop through the thread pool, and
    # the token is almost always in the hub's cache (a miss reads one row).
    return hub_of(request).authenticate(bearer(request), source_of(request))


# The one declaration every handler that needs the caller uses.
CurrentParty = Annotated[Party, Depends(current_party)]
