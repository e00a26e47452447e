"""/log: the C2SP tlog-tiles view of the log, proofs, and the verifier key. No token needed:
the log shows only what every party may see (restricted records appear as salted digests)."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse, Response

from parley.api.auth import hub_of
from parley.log import tiles
from parley.log.policy import policy_text

router = APIRouter(prefix="/log", tags=["log"])

# Full tiles never change, so caches may keep them; partial ones grow.
IMMUTABLE = {"Cache-Control": "public, max-age=31536000, immutable"}
FRESH = {"Cache-Control": "no-cache"}


@router.get("/checkpoint", response_class=PlainTextResponse)
def checkpoint(request: Request) -> PlainTextResponse:
    """The latest signed checkpoint (C2SP tlog-checkpoint, signed-note)."""
    _, signed = hub_of(request).log.checkpoint()
    return PlainTextResponse(signed, headers=FRESH)


@router.get("/policy", response_class=PlainTextResponse)
def policy(request: Request) -> PlainTextResponse:
    """The witness policy the page checks receipts against (Sigsum-style, see
    ``parley verify receipt --policy``): the hub's witnesses and how many must cosign.

    A party that takes it from here trusts the hub to name its witnesses honestly; a party
    that writes its own policy (its own witness among them) does not."""
    hub = hub_of(request)
    witnesses = [(w.url, w.verifier.key_string()) for w in hub.log.cosigners.witnesses]
    text = policy_text(
        hub.log.verifier_key,
        witnesses,
        hub.settings.witness_quorum,
        f"The witness policy of {hub.log.origin}, as its hub is configured.",
    )
    return PlainTextResponse(text, headers=FRESH)


@router.get("/verifier-key", response_class=PlainTextResponse)
def verifier_key(request: Request) -> PlainTextResponse:
    return PlainTextResponse(hub_of(request).log.verifier_key + "\n")


@router.get("/key-rotations")
def key_rotations(request: Request) -> dict[str, Any]:
    """The log's key history: each rotation checkpoint (C2SP signed note, naming the old and
    the new key) signed by both keys, oldest first. A verifier follows it from the key it
    pinned; the key in force is the last one named (docs/log.md, "Key rotation")."""
    log = hub_of(request).log
    return {"origin": log.origin, "key": log.verifier_key, "rotations": log.key_rotations()}


@router.get("/tile/{path:path}")
def tile(request: Request, path: str) -> Response:
    """Hash tiles ``<L>/<N>[.p/<W>]`` and entry bundles ``entries/<N>[.p/<W>]``."""
    log = hub_of(request).log
    if path.startswith("entries/"):
        index, width = tiles.parse_entries_path(path.removeprefix("entries/"))
        data = log.entry_bundle(index, width)
    else:
        level, index, width = tiles.parse_tile_path(path)
        data = log.hash_tile(level, index, width)
    headers = IMMUTABLE if width == tiles.TILE_WIDTH else FRESH
    return Response(data, media_type="application/octet-stream", headers=headers)


def _hashes(proof: list[bytes]) -> list[str]:
    return [base64.b64encode(h).decode("ascii") for h in proof]


@router.get("/proof/inclusion")
def inclusion(
    request: Request,
    index: Annotated[int, Query(ge=0)],
    size: Annotated[int, Query(ge=1)],
) -> dict[str, Any]:
    proof = hub_of(request).log.inclusion(index, size)
    return {"index": index, "size": size, "proof": _hashes(proof)}


@router.get("/proof/consistency")
def consistency(
    request: Request,
    old: Annotated[int, Query(ge=0, alias="from")],
    new: Annotated[int, Query(ge=0, alias="to")],
) -> dict[str, Any]:
    proof = hub_of(request).log.consistency(old, new)
    return {"from": old, "to": new, "proof": _hashes(proof)}
