"""Hard limits on what a request may carry, enforced before any handler reads it: the size of
its body, and no NUL character in its path or query (PostgreSQL cannot store or even compare a
text holding one, so such a parameter would fail in the database on one backend only)."""

from __future__ import annotations

import json
from urllib.parse import unquote_to_bytes

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from parley.errors import BadRequest, ParleyError, PayloadTooLarge


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        # Under /taxii2/ errors must be TAXII error messages: let the body stream in and the
        # count below raise inside the TAXII routes, which answer in their own format.
        taxii = str(scope.get("path", "")).startswith("/taxii2/")
        if "\x00" in str(scope.get("path", "")) or b"\x00" in unquote_to_bytes(
            scope.get("query_string", b"")
        ):
            where = "path" if "\x00" in str(scope.get("path", "")) else "query"
            refused = BadRequest(f"the request {where} holds a NUL character (%00)", field=where)
            await self._refuse(send, refused, taxii=taxii)
            return
        too_big = declared is not None and declared.isdigit() and int(declared) > self.max_bytes
        if too_big and not taxii:
            await self._refuse(send, self._error())
            return
        seen = 0

        async def counting_receive() -> Message:
            # A body without Content-Length (chunked) is counted as it streams; the error
            # handlers turn this into the same 413 problem document.
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise self._error()
            return message

        await self.app(scope, counting_receive, send)

    def _error(self) -> PayloadTooLarge:
        return PayloadTooLarge(f"the request body is over the limit of {self.max_bytes} bytes")

    async def _refuse(self, send: Send, error: ParleyError, *, taxii: bool = False) -> None:
        if taxii:
            # Under /taxii2/ an error is a TAXII error message, in TAXII's media type.
            from parley.api import taxii as taxii_api

            answer: Response = taxii_api.error(error.status, error.title, error.detail)
            media = answer.headers["content-type"].encode()
            body = bytes(answer.body)
        else:
            media = b"application/problem+json"
            body = json.dumps(error.problem()).encode()
        await send(
            {
                "type": "http.response.start",
                "status": error.status,
                "headers": [
                    (b"content-type", media),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
