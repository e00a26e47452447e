"""API tokens: random, shown once, stored only as a SHA-256 digest.

The tokens carry 256 bits of entropy, so a plain digest (not a slow password hash) is enough and
keeps authentication off the hot path.
"""

from __future__ import annotations

import hashlib
import secrets


def new_token() -> str:
    return "pt_" + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
