"""/api/v1/parties: who takes part, and the keys to check their signatures."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from parley.api.auth import CurrentParty, hub_of
from parley.errors import NotFound

router = APIRouter(prefix="/api/v1/parties", tags=["parties"])


@router.get("")
def list_(request: Request, _party: CurrentParty) -> dict[str, Any]:
    return {"items": [p.public() for p in hub_of(request).store.parties()]}


@router.get("/me")
def me(party: CurrentParty) -> dict[str, Any]:
    return party.public()


@router.get("/{party_id}")
def read(request: Request, _party: CurrentParty, party_id: str) -> dict[str, Any]:
    if not hub_of(request).is_party(party_id):
        raise NotFound(f"no party {party_id!r}")
    return hub_of(request).parties()[party_id].public()


@router.get("/{party_id}/keys")
def keys(request: Request, _party: CurrentParty, party_id: str) -> dict[str, Any]:
    """Every key the party has had, each with when it was in force: what checks the records
    it signed before a key rotation (parley verify receipt --party-key)."""
    from parley.hub import parties

    if not hub_of(request).is_party(party_id):
        raise NotFound(f"no party {party_id!r}")
    return {"items": parties.key_history(hub_of(request).store, party_id)}
