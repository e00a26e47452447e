"""Cursor-on-Target: a real TAK client library (pytak) connects to ``parley cot serve``, run as
a party's process against a real hub, and receives the party's picture over TCP."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import socket
import ssl
import subprocess
import sys
import time
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from configparser import ConfigParser, SectionProxy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from parley import clock
from tests.conftest import PartyHandle, Server, free_port

with warnings.catch_warnings():
    # pytak warns that aiohttp is missing: it is needed only for TAK Server certificate
    # enrollment, which these tests do not use.
    warnings.simplefilter("ignore", UserWarning)
    import pytak

SOON = clock.now().replace(microsecond=0) + timedelta(hours=2)
WINDOW = {"start": clock.iso(SOON), "end": clock.iso(SOON + timedelta(hours=3))}
SQUARE = [[37.0, 36.0], [37.05, 36.0], [37.05, 36.05], [37.0, 36.05], [37.0, 36.0]]


def site(lon: float, lat: float, name: str) -> dict[str, Any]:
    return {
        "category": "hospital",
        "name": name,
        "geometry": {"type": "Point", "coordinates": [lon, lat]},
        "radius_m": 300,
        "valid": {"start": "2026-01-01T00:00:00Z", "end": None},
    }


def operation(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "volumes": [
            {
                "footprint": {"type": "Point", "coordinates": [37.16, 36.2]},
                "radius_m": 2000,
                "altitude": {"lower_m": 100, "upper_m": 3000},
                "time": WINDOW,
            },
            {
                "footprint": {"type": "Polygon", "coordinates": [SQUARE]},
                "altitude": {"lower_m": 100, "upper_m": 3000},
                "time": WINDOW,
            },
        ],
    }


MOVEMENT = {
    "name": "Convoy north",
    "route": {"type": "LineString", "coordinates": [[37.4, 36.4], [37.45, 36.45], [37.5, 36.5]]},
    "corridor_m": 500,
    "time": WINDOW,
}


class Feed:
    """``parley cot serve`` as a party would run it: its own process, the party's token."""

    def __init__(self, hub_url: str, party: PartyHandle, *extra: str) -> None:
        self.port = free_port()
        env = {**os.environ, "PARLEY_TOKEN": party.token}
        self.proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "parley", "cot", "serve", "--hub", hub_url),
                *("--port", str(self.port), "--interval", "0.2"),
                *extra,
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"cot serve exited: {self.proc.communicate()[1]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("cot serve did not open its port") from None
                time.sleep(0.1)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()


@pytest.fixture
def feed_for(server: Server) -> Iterator[Any]:
    started: list[Feed] = []

    def start(party: PartyHandle) -> Feed:
        started.append(Feed(server.url, party))
        return started[-1]

    yield start
    for feed in started:
        feed.stop()


class TakClient:
    """pytak's own TCP client and receive worker: the events as a TAK client reads them."""

    def __init__(self, port: int, config: SectionProxy | None = None) -> None:
        parser = ConfigParser()
        parser["tak"] = {"COT_URL": f"tcp://127.0.0.1:{port}"}
        self.config = config or parser["tak"]
        self.events: dict[str, ET.Element] = {}
        self.raw: list[bytes] = []

    async def __aenter__(self) -> TakClient:
        reader, self.writer = await pytak.protocol_factory(self.config)
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()
        self.task = asyncio.create_task(pytak.RXWorker(self.queue, self.config, reader).run())
        return self

    async def __aexit__(self, *_: object) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        self.writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await asyncio.wait_for(self.writer.wait_closed(), 10)

    async def until(self, uids: set[str], timeout: float = 30) -> dict[str, ET.Element]:
        return await self.until_true(lambda: uids <= self.events.keys(), timeout)

    async def until_true(
        self, done: Callable[[], bool], timeout: float = 30
    ) -> dict[str, ET.Element]:
        deadline = time.monotonic() + timeout
        while not done():
            data = await asyncio.wait_for(self.queue.get(), deadline - time.monotonic())
            self.raw.append(data)
            event = ET.fromstring(data)
            self.events[event.get("uid", "")] = event
        return self.events


def export(server: Server, party: PartyHandle) -> ET.Element:
    response = httpx.get(
        f"{server.url}/api/v1/export/cot",
        headers={"Authorization": f"Bearer {party.token}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/xml")
    root = ET.fromstring(response.content)
    assert root.tag == "events"
    return root


def test_a_tak_client_receives_the_partys_picture(
    server: Server, parties: dict[str, PartyHandle], feed_for: Any
) -> None:
    with server.client(parties["relief"]) as relief:
        public = relief.submit("site", site(37.16, 36.2, "Al-Shifa hospital"), "all")["id"]
        secret = relief.submit("site", site(37.6, 36.6, "Hidden clinic"), ["bravo"])["id"]
        convoy = relief.submit("movement", MOVEMENT, "all")["id"]
    with server.client(parties["charlie"]) as charlie:
        answer = charlie.submit("operation", operation("Charlie patrol"), "all")
        patrol = answer["id"]
        assert answer["conflicts"], "the patrol's first volume covers the hospital"

    want = {
        f"parley-site-{public}",
        f"parley-operation-{patrol}-v0",
        f"parley-operation-{patrol}-v1",
        f"parley-movement-{convoy}",
    }
    feed = feed_for(parties["charlie"])

    async def session() -> tuple[dict[str, ET.Element], list[bytes], str]:
        async with TakClient(feed.port) as tak:
            await tak.until(want)
            # A conflict alerts charlie (its patrol meets the hospital): a spot marker.
            await tak.until_true(
                lambda: any(e.get("type") == "b-m-p-s-m" for e in tak.events.values())
            )
            # New records reach a connected client as they arrive.
            loop = asyncio.get_running_loop()

            def later() -> str:
                with server.client(parties["relief"]) as relief:
                    return str(relief.submit("site", site(37.3, 36.3, "New school"), "all")["id"])

            new = await loop.run_in_executor(None, later)
            await tak.until({f"parley-site-{new}"})
            return tak.events, tak.raw, new

    events, raw, new = asyncio.run(asyncio.wait_for(session(), 90))

    circle = events[f"parley-site-{public}"]
    assert circle.get("type") == "u-d-c-c" and circle.get("how") == "h-e"
    assert circle.find("point").get("lat") == "36.2000000"  # type: ignore[union-attr]
    assert circle.find("detail/shape/ellipse").get("major") == "300.0"  # type: ignore[union-attr]
    assert circle.find("detail/contact").get("callsign") == "Al-Shifa hospital"  # type: ignore[union-attr]
    assert circle.get("stale", "") > clock.iso(clock.now())[:19]

    volume = events[f"parley-operation-{patrol}-v0"]
    assert volume.get("type") == "u-d-c-c"
    assert volume.get("start") == clock.iso(SOON)[:23] + "Z"
    assert volume.get("stale") == clock.iso(SOON + timedelta(hours=3))[:23] + "Z"
    polygon = events[f"parley-operation-{patrol}-v1"]
    assert polygon.get("type") == "u-d-f"
    vertices = [link.get("point") for link in polygon.findall("detail/link")]
    assert vertices == [f"{lat:.7f},{lon:.7f}" for lon, lat in SQUARE]
    assert polygon.find("detail/strokeColor") is not None
    assert polygon.find("detail/fillColor") is not None

    route = events[f"parley-movement-{convoy}"]
    assert route.get("type") == "b-m-r"
    checkpoints = route.findall("detail/link")
    assert [c.get("type") for c in checkpoints] == ["b-m-p-w"] * 3
    assert route.find("detail/contact").get("callsign") == "Convoy north"  # type: ignore[union-attr]
    assert f"parley-site-{new}" in events

    # The restricted site never reaches an outsider: not as an event, not as a word.
    assert f"parley-site-{secret}" not in events
    assert not any(b"Hidden clinic" in data or secret.encode() in data for data in raw)

    # The export answers with the same events the feed sent.
    exported = {e.get("uid"): ET.tostring(e) for e in export(server, parties["charlie"])}
    assert exported == {uid: ET.tostring(e) for uid, e in events.items()}

    # Someone in the audience sees the restricted site.
    bravo = {e.get("uid") for e in export(server, parties["bravo"])}
    assert f"parley-site-{secret}" in bravo


def test_cot_serve_stops_on_a_refused_token(server: Server) -> None:
    found = subprocess.run(
        [sys.executable, "-m", "parley", "cot", "serve", "--hub", server.url, "--port", "0"],
        env={**os.environ, "PARLEY_TOKEN": "not-a-token"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert found.returncode == 1
    assert "the hub refused the token (401)" in found.stderr
    assert "Traceback" not in found.stderr


def test_export_requires_a_token(server: Server) -> None:
    response = httpx.get(f"{server.url}/api/v1/export/cot", timeout=30)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


def test_a_withdrawn_record_is_deleted_from_connected_clients(
    server: Server, parties: dict[str, PartyHandle], feed_for: Any
) -> None:
    with server.client(parties["relief"]) as relief:
        gone = relief.submit("site", site(37.2, 36.1, "Field clinic"), "all")["id"]
    feed = feed_for(parties["bravo"])

    async def session() -> ET.Element:
        async with TakClient(feed.port) as tak:
            await tak.until({f"parley-site-{gone}"})

            def withdraw() -> None:
                with server.client(parties["relief"]) as relief:
                    relief.submit("withdrawal", {"record": gone}, "all")

            await asyncio.get_running_loop().run_in_executor(None, withdraw)
            await tak.until({f"parley-site-{gone}-delete"})
            return tak.events[f"parley-site-{gone}-delete"]

    deleted = asyncio.run(asyncio.wait_for(session(), 60))
    assert deleted.get("type") == "t-x-d-d"
    assert deleted.find("detail/link").get("uid") == f"parley-site-{gone}"  # type: ignore[union-attr]
    assert f"parley-site-{gone}" not in {e.get("uid") for e in export(server, parties["bravo"])}


def _certificates(tmp_path: Path) -> dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, as TAK deployments
    issue them (mutual TLS)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.now(UTC)

    def name(text: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])

    def issue(
        subject: str, key: ec.EllipticCurvePrivateKey, issuer: tuple[x509.Name, Any] | None
    ) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(name(subject))
            .issuer_name(issuer[0] if issuer else name(subject))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
        )
        if issuer is None:
            builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=0), True)
        else:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                False,
            )
        return builder.sign(issuer[1] if issuer else key, hashes.SHA256())

    found: dict[str, Path] = {}
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = issue("parley test CA", ca_key, None)
    for label, cert, key in [("ca", ca, ca_key)] + [
        (label, issue(label, k, (ca.subject, ca_key)), k)
        for label, k in [
            ("server", ec.generate_private_key(ec.SECP256R1())),
            ("client", ec.generate_private_key(ec.SECP256R1())),
        ]
    ]:
        found[label] = tmp_path / f"{label}.pem"
        found[label].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        found[f"{label}-key"] = tmp_path / f"{label}.key"
        found[f"{label}-key"].write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    return found


# pytak's TLS context still sets the deprecated OP_NO_TLSv1 flags.
@pytest.mark.filterwarnings("ignore:ssl.OP_NO_SSL:DeprecationWarning")
def test_the_feed_over_mutual_tls(
    server: Server, parties: dict[str, PartyHandle], tmp_path: Path
) -> None:
    with server.client(parties["relief"]) as relief:
        there = relief.submit("site", site(37.16, 36.2, "TLS hospital"), "all")["id"]
    pem = _certificates(tmp_path)
    feed = Feed(
        server.url,
        parties["alpha"],
        "--tls-cert",
        str(pem["server"]),
        "--tls-key",
        str(pem["server-key"]),
        "--tls-client-ca",
        str(pem["ca"]),
    )
    try:
        parser = ConfigParser()
        parser["tak"] = {
            "COT_URL": f"tls://127.0.0.1:{feed.port}",
            "PYTAK_TLS_CLIENT_CERT": str(pem["client"]),
            "PYTAK_TLS_CLIENT_KEY": str(pem["client-key"]),
            "PYTAK_TLS_CLIENT_CAFILE": str(pem["ca"]),
        }

        async def session() -> dict[str, ET.Element]:
            async with TakClient(feed.port, parser["tak"]) as tak:
                return await tak.until({f"parley-site-{there}"})

        events = asyncio.run(asyncio.wait_for(session(), 60))
        assert events[f"parley-site-{there}"].get("type") == "u-d-c-c"

        # A client without a certificate from the CA is refused: an alert or a close, before
        # any event (a timeout here would fail the test, not pass it).
        context = ssl.create_default_context(cafile=str(pem["ca"]))
        got = b""
        with socket.create_connection(("127.0.0.1", feed.port), timeout=10) as raw:
            try:
                with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
                    got = tls.recv(1)
            except ssl.SSLError as exc:
                assert "CERTIFICATE_REQUIRED" in str(exc).upper() or "EOF" in str(exc).upper()
        assert got == b""
    finally:
        feed.stop()


def test_areas_and_incidents_reach_a_tak_client(
    server: Server, parties: dict[str, PartyHandle], feed_for: Any
) -> None:
    """A standalone area as a drawn shape, incidents as spot markers; a restricted incident
    reaches only its audience."""
    from tests.test_taxii_export import AREA, INCIDENT

    with server.client(parties["alpha"]) as alpha:
        area = alpha.submit("area", AREA, "all")["id"]
        seen = alpha.submit("incident", {**INCIDENT, "title": "Market shelling"}, "all")["id"]
        hidden = alpha.submit("incident", {**INCIDENT, "description": "Hidden report"}, ["bravo"])[
            "id"
        ]
    want = {f"parley-area-{area}", f"parley-incident-{seen}"}
    feed = feed_for(parties["charlie"])

    async def session() -> tuple[dict[str, ET.Element], list[bytes]]:
        async with TakClient(feed.port) as tak:
            await tak.until(want)
            return tak.events, tak.raw

    events, raw = asyncio.run(asyncio.wait_for(session(), 90))
    shape = events[f"parley-area-{area}"]
    assert shape.get("type") == "u-d-f"
    vertices = [link.get("point") for link in shape.findall("detail/link")]
    ring = AREA["geometry"]["coordinates"][0]  # type: ignore[index]
    assert vertices == [f"{lat:.7f},{lon:.7f}" for lon, lat in ring]
    assert "no-operations area (in force)" in shape.findtext("detail/remarks", "")
    assert shape.get("start") == "2026-01-01T00:00:00.000Z"

    spot = events[f"parley-incident-{seen}"]
    assert spot.get("type") == "b-m-p-s-m"
    assert spot.get("start") == "2026-03-01T10:00:00.000Z" < spot.get("stale", "")
    assert spot.find("point").get("lat") == "36.2000000"  # type: ignore[union-attr]
    assert spot.find("detail/contact").get("callsign") == "Market shelling"  # type: ignore[union-attr]
    assert spot.findtext("detail/remarks") == INCIDENT["description"]

    assert f"parley-incident-{hidden}" not in events
    assert not any(b"Hidden report" in data or hidden.encode() in data for data in raw)
    bravo = {e.get("uid") for e in export(server, parties["bravo"])}
    assert {f"parley-incident-{hidden}", f"parley-area-{area}"} <= bravo


def test_an_area_maps_proposed_version_is_amber() -> None:
    """Each area of an area map's version is its own shape, in force in its rule's colour and
    proposed in amber."""
    from parley.formats import cot

    body = {
        "map": "north",
        "version": 2,
        "valid": {"start": "2026-01-01T00:00:00Z", "end": None},
        "areas": [
            {
                "id": "a1",
                "rule": "no-fly",
                "geometry": {"type": "Polygon", "coordinates": [SQUARE]},
            },
            {
                "id": "a2",
                "rule": "delineation",
                "geometry": {"type": "Polygon", "coordinates": [SQUARE]},
            },
        ],
    }
    at = "2026-01-02T00:00:00Z"
    made = cot.events(
        [
            cot.Record("m1", "area-map", "alpha", at, body, "in force"),
            cot.Record("m2", "area-map", "alpha", at, body, "proposed"),
        ],
        [],
    )
    colours = {e.get("uid"): e.find("detail/strokeColor").get("value") for e in made}  # type: ignore[union-attr]
    assert colours == {
        "parley-area-m1-a1": str(cot._signed(cot.RED)),
        "parley-area-m1-a2": str(cot._signed(cot.ORANGE)),
        "parley-area-m2-a1": str(cot._signed(cot.AMBER)),
        "parley-area-m2-a2": str(cot._signed(cot.AMBER)),
    }
    assert "(proposed)" in (made[2].findtext("detail/remarks") or "")
