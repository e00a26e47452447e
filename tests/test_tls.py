"""TLS: ``parley init --tls self-signed`` and ``parley serve --tls-cert/--tls-key``; clients that
trust the hub only through ``--ca``, and refuse plain http beyond this machine; the map page
signing over HTTPS in Chromium with the test certificate trusted (by its public key's hash)."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from parley.api.serve import tls_files
from parley.client.http import Client, check_hub_url
from parley.config import Settings
from parley.errors import BadRequest
from parley.parties import keys

from .conftest import PartyHandle, free_port
from .test_screening_hub import HOSPITAL, site
from .test_service import _env, refused, stop, wait_ready
from .test_service import cli as cli  # the fixture, shared

pytestmark = pytest.mark.timeout(240)
CHROMIUM = os.environ.get("PARLEY_CHROMIUM", "/usr/bin/chromium")
NAME = "parley.test"  # not loopback: without TLS the page would not be a secure context there


@dataclass
class TlsHub:
    url: str
    cert: Path
    described: dict[str, Any]
    log: Path


@pytest.fixture
def tls_hub(
    settings: Settings, parties: dict[str, PartyHandle], cli: Any, tmp_path: Path
) -> Iterator[TlsHub]:
    """``parley init --tls self-signed`` on the test's data directory, then ``parley serve``
    with the certificate and key given by flag (copied elsewhere, so the flags are what count)."""
    made = cli(
        settings,
        "init",
        "--data",
        str(settings.data_dir),
        "--tls",
        "self-signed",
        "--tls-name",
        NAME,
        "--json",
    )
    assert made.returncode == 0, made.stderr
    described = json.loads(made.stdout)["tls"]
    cert, key = tmp_path / "hub.crt", tmp_path / "hub.pem"
    cert.write_bytes((settings.data_dir / "tls.crt").read_bytes())
    key.write_bytes((settings.data_dir / "tls.key").read_bytes())
    (settings.data_dir / "tls.crt").unlink()
    (settings.data_dir / "tls.key").unlink()
    port = free_port()
    url = f"https://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        argv = [sys.executable, "-m", "parley", "serve", "--data", str(settings.data_dir)]
        argv += ["--port", str(port), "--tls-cert", str(cert), "--tls-key", str(key)]
        proc = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            env=_env(settings),
        )
        try:
            wait_ready(url, proc, verify=ssl.create_default_context(cafile=str(cert)))
            yield TlsHub(url, cert, described, log)
        finally:
            stop(proc)


def test_init_writes_a_self_signed_certificate_for_the_names_given(
    settings: Settings, cli: Any
) -> None:
    data = str(settings.data_dir)
    made = cli(settings, "init", "--data", data, "--tls", "self-signed", "--tls-name", NAME)
    assert made.returncode == 0, made.stderr
    cert = x509.load_pem_x509_certificate((settings.data_dir / "tls.crt").read_bytes())
    printed = cert.fingerprint(hashes.SHA256()).hex(":").upper()
    assert printed in made.stdout  # what parties check the hub's certificate against
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(names.get_values_for_type(x509.DNSName)) == {"localhost", NAME}
    assert {str(a) for a in names.get_values_for_type(x509.IPAddress)} == {"127.0.0.1", "::1"}
    assert (settings.data_dir / "tls.key").stat().st_mode & 0o077 == 0
    # parley serve without --tls-cert/--tls-key serves the data directory's pair.
    chosen = tls_files(settings, None, None)
    assert chosen is not None and chosen.cert == settings.data_dir / "tls.crt"
    # Run again: the certificate is kept, never replaced behind the parties' pins.
    again = cli(settings, "init", "--data", data, "--tls", "self-signed", "--json")
    assert json.loads(again.stdout)["tls"]["sha256_fingerprint"] == printed
    usage = cli(settings, "init", "--data", data, "--tls-name", "x.example")
    assert usage.returncode == 2 and "--tls-name needs --tls self-signed" in usage.stderr
    bad = cli(settings, "serve", "--data", data, "--tls-cert", str(settings.data_dir / "tls.crt"))
    refused(bad, "--tls-cert and --tls-key go together")


def test_serve_tls_banner_and_a_party_trusting_the_hub_through_its_ca_file_only(
    tls_hub: TlsHub, parties: dict[str, PartyHandle], cli: Any, settings: Settings, tmp_path: Path
) -> None:
    url = tls_hub.url
    assert (
        httpx.get(
            f"{url}/healthz", verify=ssl.create_default_context(cafile=tls_hub.cert)
        ).status_code
        == 200
    )
    with pytest.raises(httpx.TransportError):
        httpx.get(url.replace("https://", "http://") + "/healthz")  # no plain HTTP beside it
    banner = tls_hub.log.read_text().splitlines()
    assert f"parley 0.1.0 serving {url}/" in banner
    fingerprint = tls_hub.described["sha256_fingerprint"]
    assert f"TLS: {tls_hub.cert} sha256 {fingerprint}" in banner
    assert fingerprint.count(":") == 31

    relief = parties["relief"]
    with Client(tls_hub.url, relief.id, relief.token, relief.key, ca=tls_hub.cert) as client:
        answer = client.submit("site", site(*HOSPITAL))
        assert answer["kind"] == "site"

    # The system's CAs do not know a self-signed certificate: a sentence, not OpenSSL's words.
    with (
        Client(tls_hub.url, relief.id, relief.token, relief.key) as untrusting,
        pytest.raises(BadRequest) as refusal,
    ):
        untrusting.get("/api/v1/parties/me")
    assert f"the hub at {tls_hub.url} presented a certificate" in refusal.value.detail
    assert "--ca FILE" in refusal.value.detail

    key = tmp_path / "relief.key.json"
    keys.write_private_key(key, relief.key)
    body = tmp_path / "site.json"
    body.write_text(json.dumps(site(*HOSPITAL, name="Clinic over TLS")))
    args = ["--hub", tls_hub.url, "--party", relief.id, "--key", str(key), "--token", relief.token]
    without = cli(settings, "submit", *args, "site", str(body))
    refused(without, f"the hub at {tls_hub.url} presented a certificate", "PARLEY_CA")
    os.environ["PARLEY_CA"] = str(tls_hub.cert)
    try:
        with_ca = cli(settings, "submit", *args, "site", str(body), "--json")
    finally:
        del os.environ["PARLEY_CA"]
    assert with_ca.returncode == 0, with_ca.stderr
    assert json.loads(with_ca.stdout)["kind"] == "site"


def test_plain_http_beyond_this_machine_is_refused_unless_insecure(
    parties: dict[str, PartyHandle], settings: Settings, cli: Any, tmp_path: Path
) -> None:
    relief = parties["relief"]
    with pytest.raises(BadRequest) as refusal:
        Client("http://10.0.0.1:8000", relief.id, relief.token, relief.key)
    assert "refusing plain http:// to http://10.0.0.1:8000" in refusal.value.detail
    assert "--insecure" in refusal.value.detail
    # Loopback and https are fine; --insecure is the operator's explicit choice.
    check_hub_url("http://127.0.0.1:8000")
    check_hub_url("http://localhost:8000")
    check_hub_url("http://[::1]:8000")
    check_hub_url("https://10.0.0.1:8443")
    Client("http://10.0.0.1:8000", relief.id, relief.token, relief.key, insecure=True).close()

    key = tmp_path / "relief.key.json"
    keys.write_private_key(key, relief.key)
    body = tmp_path / "site.json"
    body.write_text(json.dumps(site(*HOSPITAL)))
    args = ["--hub", "http://10.0.0.1:8000", "--party", "relief", "--key", str(key)]
    ran = cli(settings, "submit", *args, "--token", relief.token, "site", str(body))
    refused(ran, "refusing plain http:// to http://10.0.0.1:8000", "PARLEY_INSECURE=1")


def test_the_map_page_signs_in_and_notifies_over_https_in_chromium(
    tls_hub: TlsHub, parties: dict[str, PartyHandle], tmp_path: Path
) -> None:
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        pytest.skip("Playwright for Python is not installed")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (set PARLEY_CHROMIUM)")
    relief = parties["relief"]
    key = tmp_path / "relief.key.json"
    keys.write_private_key(key, relief.key)
    port = tls_hub.url.rsplit(":", 1)[1]
    page_url = f"https://{NAME}:{port}/"
    args = [
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        f"--host-resolver-rules=MAP {NAME} 127.0.0.1",
        # Trust exactly this certificate's key, as a party that pinned it would.
        f"--ignore-certificate-errors-spki-list={tls_hub.described['spki_sha256']}",
    ]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=args, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(page_url)
            assert page.evaluate("window.isSecureContext && !!crypto.subtle") is True
            page.get_by_label("Party token").fill(relief.token)
            page.get_by_label("Key file").set_input_files(str(key))
            page.get_by_role("button", name="Sign in").click()
            expect(page.locator("#party-id")).to_have_text("relief", timeout=30_000)
            page.get_by_text("Notify a protected site").click()
            form = page.locator("#site-form")
            form.get_by_label("Name").fill("Clinic signed over HTTPS")
            form.get_by_label("Category").select_option("health-post")
            form.get_by_label("Position").fill(f"{HOSPITAL[1]}, {HOSPITAL[0]}")
            form.get_by_label("Protected radius (metres)").fill("250")
            form.get_by_role("button", name="Sign and notify site").click()
            expect(form.locator(".status")).to_contain_text(
                "Notified and logged at sequence", timeout=30_000
            )
            assert errors == []
        finally:
            browser.close()
    with Client(tls_hub.url, relief.id, relief.token, relief.key, ca=tls_hub.cert) as client:
        names = [s["document"]["body"]["name"] for s in client.get("/api/v1/submissions")["items"]]
    assert "Clinic signed over HTTPS" in names
