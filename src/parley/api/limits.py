"""A hard cap on request bodies, enforced before any handler reads them."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from parley.errors import PayloadTooLarge


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
        too_big = declared is not None and declared.isdigit() and int(declared) > self.max_bytes
        if too_big and not taxii:
            await self._refuse(send)
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

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(self._error().problem()).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
