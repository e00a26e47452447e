"""The witness's HTTP service (ASGI, Starlette).

    POST /add-checkpoint                c2sp.org/tlog-witness add-checkpoint
    GET  /<sha256(origin) hex>/checkpoint  the latest cosigned checkpoint (monitor retrieval)

Refusals are RFC 9457 problem documents, except 409, whose body the spec fixes: the size last
cosigned, ``text/x.tlog.size``.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from parley.errors import NotFound, ParleyError, PayloadTooLarge
from parley.witness import datadir
from parley.witness.protocol import OldSizeConflict, Witness

MAX_BODY = 1 << 20
"""Far above a checkpoint with 100 signatures (ML-DSA-44 ones included) and 63 proof lines."""

PROBLEM = "application/problem+json"
SIZE = "text/x.tlog.size"
NOTE = "text/plain; charset=utf-8"
_ORIGIN_HASH = re.compile(r"[0-9a-f]{64}")


def _problem(status: int, title: str, detail: str, slug: str, **extra: Any) -> JSONResponse:
    body = {
        "type": f"https://parley.example/problems/{slug}",
        "title": title,
        "status": status,
        "detail": detail,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


def _refusal(exc: ParleyError) -> Response:
    if isinstance(exc, OldSizeConflict):
        # Set by hand: Starlette would append a charset to a text/* media type, and the spec
        # names the bare type.
        return Response(f"{exc.size}\n", status_code=409, headers={"content-type": SIZE})
    return JSONResponse(exc.problem(), status_code=exc.status, media_type=PROBLEM)


async def _read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise PayloadTooLarge(f"the request body is over {MAX_BODY} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise PayloadTooLarge(f"the request body is over {MAX_BODY} bytes")
    return bytes(body)


def create_app(witness: Witness) -> Starlette:
    async def add_checkpoint(request: Request) -> Response:
        try:
            body = await _read_body(request)
            # Signing and SQLite block: keep them off the event loop.
            result = await run_in_threadpool(witness.add_checkpoint, body)
        except ParleyError as exc:
            return _refusal(exc)
        return PlainTextResponse(result.lines, media_type=NOTE)

    async def latest_checkpoint(request: Request) -> Response:
        origin_hash = str(request.path_params["origin_hash"])
        if not _ORIGIN_HASH.fullmatch(origin_hash):
            return _refusal(NotFound("the path must be the lowercase hex SHA-256 of an origin"))

        def find() -> str | None:
            for origin in witness.store.origins():
                if hashlib.sha256(origin.encode("utf-8")).hexdigest() == origin_hash:
                    latest = witness.store.latest(origin)
                    return latest.note if latest else None
            return None

        found = await run_in_threadpool(find)
        if found is None:
            return _refusal(NotFound("this witness has cosigned no checkpoint of that origin"))
        return PlainTextResponse(found, media_type=NOTE)

    async def http_error(_request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "HTTP error")
        return _problem(
            exc.status_code,
            title,
            str(exc.detail),
            f"http-{exc.status_code}",
        )

    return Starlette(
        routes=[
            Route("/add-checkpoint", add_checkpoint, methods=["POST"]),
            Route("/{origin_hash}/checkpoint", latest_checkpoint, methods=["GET"]),
        ],
        exception_handlers={HTTPException: http_error},
    )


def app_for(data_dir: Path) -> Starlette:
    return create_app(Witness(datadir.load_signer(data_dir), datadir.open_store(data_dir)))


def serve(data_dir: Path, host: str, port: int) -> None:
    import logging

    import uvicorn

    app = app_for(data_dir)
    # The witness's warnings (trust on first use, forks seen) are for its operator's log.
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False)
