"""How the party's side reaches a hub (or a mirror) over HTTP: the one place every command that
fetches from a hub gets its connection.

Plain ``http://`` only to this machine unless the user says ``--insecure``: beyond it a token
(and the records) would cross the network in clear, and an unsigned answer could be swapped.
HTTPS trusts the system's CAs, or only the ``--ca`` file (a CA, or a hub's self-signed
certificate). A certificate this machine does not trust is a sentence naming the hub and
saying what to do, not OpenSSL's words.
"""

from __future__ import annotations

import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

import httpx

from parley.errors import BadRequest


def check_hub_url(url: str, insecure: bool = False) -> None:
    """Refuse to send a token in clear beyond this machine unless told to."""
    parsed = httpx.URL(url)
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise BadRequest(f"{url!r} is not a hub URL: give https://host[:port]/")
    if parsed.scheme == "https" or insecure or _loopback(parsed.host):
        return
    raise BadRequest(
        f"refusing plain http:// to {url}: the token and records would cross the network "
        "unencrypted. Use the hub's https:// URL (with --ca FILE for a private certificate), or "
        "--insecure (PARLEY_INSECURE=1) if you must"
    )


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def tls_context(ca: Path | None) -> ssl.SSLContext:
    """The system's trusted CAs, or only ``ca`` (a CA or the hub's self-signed certificate)."""
    if ca is None:
        return ssl.create_default_context()
    try:
        return ssl.create_default_context(cafile=str(ca))
    except (OSError, ssl.SSLError) as exc:
        raise BadRequest(f"cannot read --ca {ca} as PEM certificates: {exc}") from None


def untrusted(origin: str, reason: object) -> BadRequest:
    return BadRequest(
        f"the hub at {origin} presented a certificate this machine does not trust "
        f"({reason}): give its CA or certificate with --ca FILE (PARLEY_CA), after checking "
        "its SHA-256 fingerprint with the hub's operator"
    )


def is_untrusted(exc: BaseException) -> bool:
    text = str(exc)
    return isinstance(exc, ssl.SSLCertVerificationError) or (
        "CERTIFICATE_VERIFY_FAILED" in text or "certificate" in text
    )


def _origin(request: httpx.Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc.decode('ascii')}"


class TrustTransport(httpx.HTTPTransport):
    """Says what to do when the hub's certificate is not trusted, instead of OpenSSL's words."""

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return super().handle_request(request)
        except httpx.ConnectError as exc:
            if not is_untrusted(exc):
                raise
            raise untrusted(_origin(request), exc) from None


class AsyncTrustTransport(httpx.AsyncHTTPTransport):
    """TrustTransport for asyncio (the CoT feed)."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            return await super().handle_async_request(request)
        except httpx.ConnectError as exc:
            if not is_untrusted(exc):
                raise
            raise untrusted(_origin(request), exc) from None


@dataclass(frozen=True)
class Trust:
    """What a command was told to trust: ``--ca FILE`` and ``--insecure``."""

    ca: Path | None = None
    insecure: bool = False

    def check(self, url: str) -> None:
        check_hub_url(url, self.insecure)

    def context(self) -> ssl.SSLContext:
        return tls_context(self.ca)

    def client(
        self,
        url: str | None = None,
        *,
        token: str | None = None,
        timeout: float = 30.0,
        limits: httpx.Limits | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> httpx.Client:
        """An ``httpx.Client`` for ``url`` (checked, and its base URL), or for any URL the
        caller checks itself (``url`` None: peers, each checked when named)."""
        if url is not None:
            self.check(url)
        return httpx.Client(
            base_url=url.rstrip("/") if url else "",
            headers={"Authorization": f"Bearer {token}"} if token else None,
            transport=transport
            or (
                TrustTransport(verify=self.context(), limits=limits)
                if limits
                else TrustTransport(verify=self.context())
            ),
            timeout=timeout,
        )

    def async_client(
        self, url: str, *, token: str | None = None, timeout: float = 30.0
    ) -> httpx.AsyncClient:
        self.check(url)
        return httpx.AsyncClient(
            base_url=url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"} if token else None,
            transport=AsyncTrustTransport(verify=self.context()),
            timeout=timeout,
        )
