"""The mirror's read-only copy of the log over HTTP (ASGI, Starlette).

    GET /log/checkpoint                 the newest checkpoint it verified, with its cosignature
    GET /log/tile/<L>/<N>[.p/<W>]       hash tiles, byte for byte the hub's
    GET /log/tile/entries/<N>[.p/<W>]   entry bundles
    GET /<sha256(origin) hex>/checkpoint   the same cosigned checkpoint, at a witness's path
    GET /mirror/status                  JSON: name, verifier key, origin, size, forks seen
    GET /mirror/forks                   JSON: every fork evidence document it recorded

Clients use it exactly as they use the hub (``parley verify log URL``); peers compare it.
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from parley.errors import TileError
from parley.log import note
from parley.log.tiles import TILE_WIDTH, parse_entries_path, parse_tile_path, tile_exists
from parley.mirroring.fetch import origin_hash
from parley.mirroring.store import MirrorStore

IMMUTABLE = {"Cache-Control": "public, max-age=31536000, immutable"}
FRESH = {"Cache-Control": "no-cache"}


def _problem(status: int, title: str, detail: str) -> JSONResponse:
    return JSONResponse(
        {
            "type": f"https://parley.example/problems/http-{status}",
            "title": title,
            "status": status,
            "detail": detail,
        },
        status_code=status,
        media_type="application/problem+json",
    )


def create_app(store: MirrorStore, signer: note.CosignatureSigner, origin: str) -> Starlette:
    async def checkpoint(_request: Request) -> Response:
        head = await run_in_threadpool(store.head)
        if head is None:
            return _problem(404, "Not found", "this mirror has verified no checkpoint yet")
        return PlainTextResponse(head.cosigned or head.note, headers=FRESH)

    async def witness_checkpoint(request: Request) -> Response:
        if request.path_params["origin_hash"] != origin_hash(origin):
            return _problem(404, "Not found", "this mirror follows another origin")
        return await checkpoint(request)

    async def tile(request: Request) -> Response:
        path = str(request.path_params["path"])
        try:
            if path.startswith("entries/"):
                index, width = parse_entries_path(path.removeprefix("entries/"))
                level = 0
            else:
                level, index, width = parse_tile_path(path)
        except TileError as exc:
            return _problem(400, "Bad tile path", exc.detail)

        def find() -> bytes | None:
            # Only tiles of the verified head: tiles stored ahead of a checkpoint that is
            # still being verified are not vouched for yet.
            head = store.head()
            if head is None or not tile_exists(head.checkpoint.size, level, index, width):
                return None
            return store.tile("tile/" + path)

        data = await run_in_threadpool(find)
        if data is None:
            return _problem(404, "Not found", f"this mirror holds no tile/{path}")
        headers = IMMUTABLE if width == TILE_WIDTH else FRESH
        return Response(data, media_type="application/octet-stream", headers=headers)

    async def status(_request: Request) -> Response:
        def read() -> dict[str, Any]:
            head = store.head()
            return {
                "name": signer.name,
                "verifier_key": signer.verifier().key_string(),
                "origin": origin,
                "size": head.checkpoint.size if head else None,
                "forks": [
                    {"at": f.at, "kind": f.kind, "summary": f.summary} for f in store.forks()
                ],
            }

        return JSONResponse(await run_in_threadpool(read))

    async def forks(_request: Request) -> Response:
        found = await run_in_threadpool(store.forks)
        return JSONResponse({"forks": [f.evidence for f in found]})

    return Starlette(
        routes=[
            Route("/mirror/forks", forks),
            Route("/log/checkpoint", checkpoint),
            Route("/log/tile/{path:path}", tile),
            Route("/mirror/status", status),
            Route("/{origin_hash}/checkpoint", witness_checkpoint),
        ]
    )
