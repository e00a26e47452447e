"""``parley demo``: a hub on SQLite with a scenario built from the real data in parley/data.

Places, governorates and airfields are real (Natural Earth, GeoNames, OurAirports). Protected
sites are *generated* around real towns, because no public list of Syrian hospitals ships in a
package we can use; every generated site says so in its name.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import threading
import time
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from rich.progress import Progress

from parley import config
from parley.cli.demo_scenario import scenario
from parley.client.http import document
from parley.errors import ParleyError
from parley.geo.region import Region
from parley.hub import setup
from parley.hub.admission import Accepted
from parley.hub.core import Hub
from parley.parties import jws, keys


@dataclass(frozen=True)
class DemoParty:
    id: str
    name: str
    role: str


PARTIES = (
    DemoParty("alpha", "Alpha air operations liaison cell", "member"),
    DemoParty("bravo", "Bravo air operations liaison cell", "member"),
    DemoParty("charlie", "Charlie liaison cell (stays out of designated areas)", "member"),
    DemoParty("relief", "Humanitarian notifier (demo)", "notifier"),
    DemoParty("monitor", "Cease-fire monitoring mission (demo)", "observer"),
)

ATTRIBUTION = (
    "Towns: GeoNames (CC BY 4.0); boundaries: Natural Earth (public domain); "
    "protected sites: generated around real towns for this demo"
)


WITNESS_DIR = "witnesses"


def witness_name(party_id: str) -> str:
    return f"witness.parley.demo/{party_id}"


class DemoWitnesses:
    """A C2SP witness for each member, each with its own data directory under the demo's,
    served on a free loopback port by a thread of this process; the hub is configured with
    them, so every checkpoint it hands out carries their cosignatures."""

    def __init__(self, data_dir: Path, settings: config.Settings) -> None:
        import uvicorn

        from parley.witness import datadir
        from parley.witness.app import app_for

        # The demo's witnesses trust the demo's own fresh log on first use by design: their
        # warning about it is for real deployments, not for someone trying the demo.
        logging.getLogger("parley.witness").setLevel(logging.ERROR)
        self.servers: list[tuple[uvicorn.Server, threading.Thread]] = []
        self.lines: list[str] = []
        self.described: list[dict[str, str]] = []
        try:
            for p in PARTIES:
                if p.role != "member":
                    continue
                wdir = data_dir / WITNESS_DIR / p.id
                if not datadir.key_path(wdir).exists():
                    datadir.init(wdir, witness_name(p.id))
                    datadir.add_log(wdir, settings.origin, setup.verifier_key(settings))
                key = datadir.load_signer(wdir).verifier().key_string()
                url = self._serve(uvicorn, app_for(wdir))
                self.lines.append(f"{url} {key}")
                self.described.append({"party": p.id, "url": url, "verifier_key": key})
        except BaseException:
            self.stop()
            raise

    def _serve(self, uvicorn: Any, app: Any) -> str:
        # Port 0: the kernel picks a free port, read back once the socket is bound.
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
        )
        thread = threading.Thread(target=server.run, name="parley-demo-witness", daemon=True)
        thread.start()
        self.servers.append((server, thread))
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("a demo witness did not start")
            time.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/"

    def configure(self, settings: config.Settings) -> config.Settings:
        return replace(settings, witnesses=tuple(self.lines))

    def stop(self) -> None:
        for server, _ in self.servers:
            server.should_exit = True
        for _, thread in self.servers:
            thread.join(timeout=5)
        self.servers = []


def build(data_dir: Path, url: str, quiet: bool = False) -> dict[str, Any]:
    """Create the scenario once; a second run reuses it and reports the same parties."""
    demo_file = data_dir / "demo.json"
    if demo_file.exists():
        summary: dict[str, Any] = json.loads(demo_file.read_text())
        summary["url"] = url
        return summary
    setup.init(data_dir, None, None)
    settings = config.load(data_dir)
    syria = resources.files("parley.data").joinpath("syria-governorates.geojson").read_text()
    setup.record_region(settings, Region.from_geojson(syria, 50_000, "Syria"))
    key_dir = data_dir / "keys"
    key_dir.mkdir(exist_ok=True)
    registered: dict[str, dict[str, str]] = {}
    signers: dict[str, Ed25519PrivateKey] = {}
    for p in PARTIES:
        key = Ed25519PrivateKey.generate()
        path = key_dir / f"{p.id}.key.json"
        keys.write_private_key(path, key)
        keys.write_public_key(keys.public_path_for(path), key.public_key())
        token = setup.add_party(settings, p.id, p.name, p.role, key.public_key())
        registered[p.id] = {
            "id": p.id,
            "name": p.name,
            "role": p.role,
            "token": token,
            "key_file": str(path.resolve()),
        }
        signers[p.id] = key
    witnesses = DemoWitnesses(data_dir, settings)
    try:
        counts = asyncio.run(_submit_scenario(witnesses.configure(settings), signers))
    finally:
        witnesses.stop()
    summary = {
        "url": url,
        "data_dir": str(data_dir.resolve()),
        "verifier_key": setup.verifier_key(settings),
        "parties": list(registered.values()),
        "submissions": counts,
        "conflicts": _conflict_counts(settings),
        "witnesses": [
            {"party": w["party"], "verifier_key": w["verifier_key"]} for w in witnesses.described
        ],
        "attribution": ATTRIBUTION,
    }
    fd = demo_file.open("w")
    with fd:
        json.dump(summary, fd, indent=2)
    demo_file.chmod(0o600)
    return summary


async def _submit_scenario(
    settings: config.Settings, signers: dict[str, Ed25519PrivateKey]
) -> dict[str, int]:
    hub = Hub(settings)
    counts: dict[str, int] = {}
    ids: dict[str, str] = {}
    try:
        by_id = hub.parties()
        with Progress(transient=True) as progress:
            task = progress.add_task("notifying the demo scenario", total=None)
            # Lazy: later steps refer to records earlier steps created.
            for party_id, items in scenario(random.Random(20261125), ids):
                compacts = [
                    jws.sign(document(kind, party_id, body, audience), signers[party_id], party_id)
                    for kind, body, audience, _ in items
                ]
                outcomes = await hub.submit(by_id[party_id], compacts)
                for (kind, _, _, name), outcome in zip(items, outcomes, strict=True):
                    if isinstance(outcome, ParleyError):
                        raise outcome
                    assert isinstance(outcome, Accepted)
                    if name:
                        ids[name] = outcome.record.id
                    counts[kind] = counts.get(kind, 0) + 1
                progress.advance(task)
        # The last checkpoint, cosigned by the witnesses, before the hub stops: every receipt
        # the demo hands out is cosigned, even before anything new is submitted.
        deadline = time.monotonic() + 30
        while hub.log.published_size() < hub.store.log_size() and time.monotonic() < deadline:
            hub.log.notify()
            time.sleep(0.05)
    finally:
        hub.close()
    return counts


def _conflict_counts(settings: config.Settings) -> dict[str, int]:
    from parley.store.db import Store

    store = Store(settings.database)
    try:
        return store.conflict_counts()
    finally:
        store.close()


def _counts(counts: object) -> str:
    """``12 site, 3 operation``: counts as words, not a Python dict."""
    if isinstance(counts, dict):
        return ", ".join(f"{n} {what}" for what, n in counts.items()) or "none"
    return str(counts)


def parley_command() -> str:
    """How to call parley from here: ``parley`` when it is on PATH, else this environment's
    own script (``.venv/bin/parley``), relative to the working directory when under it."""
    import os
    import shlex
    import shutil
    import sys

    if shutil.which("parley"):
        return "parley"
    script = Path(sys.executable).parent / "parley"
    if not script.exists():
        return f"{shlex.quote(sys.executable)} -m parley"
    try:
        shown = str(script.relative_to(Path.cwd()))
    except ValueError:
        shown = str(script)
    return shlex.quote(shown if os.sep in shown else str(script))


def describe(summary: dict[str, Any]) -> str:
    from rich.markup import escape

    url = summary["url"]
    lines = [f"[bold]parley demo[/] at {escape(url)}  (data: {escape(summary['data_dir'])})", ""]
    for p in summary["parties"]:
        lines.append(escape(f"  {p['id']:8} {p['role']:9} token {p['token']}"))
    parley = parley_command()
    by_id = {p["id"]: p for p in summary["parties"]}

    def as_party(party_id: str, command: str) -> str:
        p = by_id.get(party_id) or summary["parties"][0]
        return escape(
            f"  PARLEY_HUB={url} PARLEY_PARTY={p['id']} PARLEY_TOKEN={p['token']} "
            f"PARLEY_KEY={p['key_file']} {parley} {command}"
        )

    lines += [
        "",
        escape(f"log verifier key: {summary['verifier_key']}"),
        f"submissions: {escape(_counts(summary['submissions']))}",
        f"conflicts raised: {escape(_counts(summary.get('conflicts', {})))}",
        *(
            escape(f"witness of {w['party']}: {w.get('url', '(not running)')} {w['verifier_key']}")
            for w in summary.get("witnesses", [])
        ),
        f"witness policy (receipts checked against it): {escape(url)}/log/policy",
        "",
        "Try:",
        f"  open {escape(url)}/ and sign in as alpha with its token and key file",
        escape(
            f"  curl -H 'Authorization: Bearer {summary['parties'][0]['token']}' "
            f"{url}/api/v1/submissions"
        ),
        f"  open {escape(url)}/docs for the API, {escape(url)}/openapi.json for its schema",
        as_party("alpha", "alerts --follow"),
        as_party("alpha", "conflicts"),
        as_party("relief", "site list"),
        as_party("monitor", "incident list"),
        escape(f"Tokens and key files are in {summary['data_dir']}/demo.json."),
        ATTRIBUTION,
    ]
    return "\n".join(lines)
