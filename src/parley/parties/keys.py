"""Ed25519 key files, as JSON Web Keys (RFC 8037) so the browser's WebCrypto can import them."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from parley.errors import BadRequest


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    if not isinstance(text, str) or "=" in text:
        raise BadRequest("expected unpadded base64url text")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise BadRequest(f"invalid base64url: {exc}") from None


def public_raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def public_jwk(key: Ed25519PublicKey) -> dict[str, str]:
    return {"kty": "OKP", "crv": "Ed25519", "x": b64url(public_raw(key))}


def private_jwk(key: Ed25519PrivateKey) -> dict[str, str]:
    from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

    seed = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return {**public_jwk(key.public_key()), "d": b64url(seed)}


def public_key_from_raw(raw: bytes) -> Ed25519PublicKey:
    if len(raw) != 32:
        raise BadRequest("an Ed25519 public key is 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def _jwk_from_file(path: Path) -> dict[str, str]:
    try:
        jwk = json.loads(path.read_text())
    except OSError as exc:
        raise BadRequest(f"cannot read key file {path}: {exc.strerror}") from None
    except ValueError:
        raise BadRequest(f"{path} is not a JSON Web Key file") from None
    if not isinstance(jwk, dict) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise BadRequest(f"{path} is not an Ed25519 JSON Web Key (kty OKP, crv Ed25519)")
    return jwk


def load_private_key(path: Path) -> Ed25519PrivateKey:
    jwk = _jwk_from_file(path)
    if "d" not in jwk:
        raise BadRequest(f"{path} holds a public key only")
    return Ed25519PrivateKey.from_private_bytes(b64url_decode(jwk["d"]))


def load_public_key(path: Path) -> Ed25519PublicKey:
    jwk = _jwk_from_file(path)
    return public_key_from_raw(b64url_decode(jwk["x"]))


def write_private_key(path: Path, key: Ed25519PrivateKey) -> None:
    """Write the key readable by its owner only (0600), never briefly world-readable."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(private_jwk(key), handle)
        handle.write("\n")
    os.chmod(path, 0o600)


def write_public_key(path: Path, key: Ed25519PublicKey) -> None:
    path.write_text(json.dumps(public_jwk(key)) + "\n")


def public_path_for(private_path: Path) -> Path:
    return private_path.with_name(private_path.stem + ".pub.json")
