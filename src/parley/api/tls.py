"""TLS for ``parley serve``: a self-signed certificate for a test set-up, and its fingerprints.

A data directory may hold ``tls.crt`` and ``tls.key``; ``parley serve`` then speaks HTTPS with
them unless told otherwise. For a hub in service a certificate from a CA, or a reverse proxy in
front (docs/operations.md), is the better choice: a self-signed one must be pinned by every party.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from parley.errors import BadRequest

DEFAULT_NAMES = ("localhost", "127.0.0.1", "::1")
VALID_DAYS = 397  # the longest browsers accept for a server certificate


def paths(data_dir: Path) -> tuple[Path, Path]:
    return data_dir / "tls.crt", data_dir / "tls.key"


def _san(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        pass
    if not name or any(c.isspace() or c in "/:@" for c in name):
        raise BadRequest(f"--tls-name {name!r} is neither a host name nor an IP address")
    return x509.DNSName(name.lower())


def self_signed(data_dir: Path, names: tuple[str, ...] = ()) -> dict[str, Any]:
    """Write ``tls.crt`` and ``tls.key`` (mode 0600) unless both exist; never replace a key."""
    cert_path, key_path = paths(data_dir)
    if cert_path.exists() and key_path.exists():
        return {**describe(cert_path), "created": False}
    if cert_path.exists() or key_path.exists():
        raise BadRequest(
            f"{data_dir} holds only one of tls.crt and tls.key: remove it or add the other"
        )
    sans = list(dict.fromkeys([*DEFAULT_NAMES, *names]))
    general = [_san(n) for n in sans]
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, sans[-1] if names else sans[0])])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(general), critical=False)
        # Its own issuer: a party trusts it as a CA file (--ca) or pins its fingerprint.
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    data_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return {**describe(cert_path), "created": True}


def load(cert_path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(cert_path.read_bytes())
    except (OSError, ValueError) as exc:
        raise BadRequest(f"cannot read the certificate {cert_path}: {exc}") from None


def describe(cert_path: Path) -> dict[str, Any]:
    """What a party pins: the certificate's SHA-256 fingerprint (as ``openssl x509
    -fingerprint -sha256`` prints it) and the base64 SHA-256 of its public key (SPKI)."""
    cert = load(cert_path)
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    try:
        names = [
            str(n.value)
            for n in cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        ]
    except x509.ExtensionNotFound:
        names = []
    return {
        "certificate": str(cert_path),
        "key": str(paths(cert_path.parent)[1]) if cert_path.name == "tls.crt" else None,
        "sha256_fingerprint": fingerprint(cert),
        "spki_sha256": base64.b64encode(hashlib.sha256(spki).digest()).decode("ascii"),
        "names": names,
        "not_after": cert.not_valid_after_utc.isoformat(),
    }


def fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()
