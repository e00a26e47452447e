"""Every failure parley reports, as one tree.

    ParleyError                  root; carries an HTTP status and a user-facing explanation
    ├── BadRequest               400: the input cannot be understood
    │   ├── InvalidJSON
    │   ├── InvalidGeometry      names the field and the coordinate index
    │   └── InvalidSubmission
    ├── Unauthorized             401: missing or wrong token
    ├── Forbidden                403: the party's role may not do this
    ├── NotFound                 404: also what a record outside one's audience looks like
    ├── MethodNotAllowed         405
    ├── NotAcceptable            406: no media type the client accepts (TAXII)
    ├── Conflict                 409: replayed nonce, stale picture, invalid state transition
    ├── PayloadTooLarge          413
    ├── UnsupportedMediaType     415
    ├── Unprocessable            422: well-formed but refused (bad signature, stale time, ...)
    └── LogError                 the log does not verify: a proof, checkpoint or tile is wrong
        ├── ProofError
        ├── CheckpointError
        └── TileError

The HTTP layer turns each into an RFC 9457 problem document from ``status``, ``title`` and
``detail``; the CLI prints ``detail`` and exits non-zero. Nothing else needs to know how.
"""

from __future__ import annotations

from typing import Any


class ParleyError(Exception):
    status: int = 500
    title: str = "Internal error"
    slug: str = "error"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra

    def problem(self) -> dict[str, Any]:
        """The RFC 9457 body for this error."""
        body: dict[str, Any] = {
            "type": f"https://parley.example/problems/{self.slug}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        body.update(self.extra)
        return body


class BadRequest(ParleyError):
    status = 400
    title = "Bad request"
    slug = "bad-request"


class InvalidJSON(BadRequest):
    title = "Malformed JSON"
    slug = "malformed-json"


class InvalidGeometry(BadRequest):
    title = "Invalid geometry"
    slug = "invalid-geometry"


class InvalidSubmission(BadRequest):
    title = "Invalid submission"
    slug = "invalid-submission"


class Unauthorized(ParleyError):
    status = 401
    title = "Unauthorized"
    slug = "unauthorized"


class Forbidden(ParleyError):
    status = 403
    title = "Forbidden"
    slug = "forbidden"


class NotFound(ParleyError):
    status = 404
    title = "Not found"
    slug = "not-found"


class MethodNotAllowed(ParleyError):
    status = 405
    title = "Method not allowed"
    slug = "method-not-allowed"


class NotAcceptable(ParleyError):
    status = 406
    title = "Not acceptable"
    slug = "not-acceptable"


class Conflict(ParleyError):
    status = 409
    title = "Conflict"
    slug = "conflict"


class PayloadTooLarge(ParleyError):
    status = 413
    title = "Payload too large"
    slug = "payload-too-large"


class UnsupportedMediaType(ParleyError):
    status = 415
    title = "Unsupported media type"
    slug = "unsupported-media-type"


class Unprocessable(ParleyError):
    status = 422
    title = "Submission refused"
    slug = "refused"


class LogError(ParleyError):
    """The log, a proof or a checkpoint does not verify."""

    status = 422
    title = "Log verification failed"
    slug = "log-verification-failed"


class ProofError(LogError):
    title = "Proof does not verify"
    slug = "bad-proof"


class CheckpointError(LogError):
    title = "Checkpoint does not verify"
    slug = "bad-checkpoint"


class TileError(LogError):
    title = "Tile does not verify"
    slug = "bad-tile"
