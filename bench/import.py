"""Spreadsheet rows imported per second: `parley site import` of a 5,000-row CSV into a fresh hub.

    .venv/bin/python bench/import.py [--n 5000]

A fresh `parley init` data directory (SQLite), `parley serve` as a subprocess, then the real
command (`parley site import FILE --yes --json`, a subprocess too, so start-up counts) on a CSV of N
generated sites spread over Syria. The run counts only if every row was accepted and the hub then
holds exactly N sites; a second import of the same file must skip all N (timed too).
Goal (issue 15): 5,000 rows in under a minute.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from parley import config
from parley.hub import setup
from parley.parties import keys
from parley.records.notices import CATEGORIES

PARLEY = str(Path(sys.executable).with_name("parley"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        data = root / "data"
        setup.init(data, None, None)
        settings = config.load(data, None)
        key = Ed25519PrivateKey.generate()
        token = setup.add_party(settings, "relief", "Relief", "notifier", key.public_key())
        keys.write_private_key(root / "relief.key.json", key)
        sheet = root / "sites.csv"
        rng = random.Random(1)
        with sheet.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(
                ["Facility name", "Type of facility", "Latitude", "Longitude", "Radius"]
            )
            for i in range(args.n):
                lat, lon = rng.uniform(32.5, 37.0), rng.uniform(36.0, 41.5)
                category = rng.choice(CATEGORIES)
                writer.writerow([f"Site {i}", category, f"{lat:.6f}", f"{lon:.6f}", 100])
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        hub = subprocess.Popen(
            [PARLEY, "serve", "--data", str(data), "--host", "127.0.0.1", "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    httpx.get(f"{url}/api/v1/log/checkpoint", timeout=1)
                    break
                except httpx.HTTPError:
                    if time.monotonic() > deadline:
                        raise SystemExit("the hub did not start") from None
                    time.sleep(0.1)
            env = {
                **os.environ,
                "PARLEY_HUB": url,
                "PARLEY_PARTY": "relief",
                "PARLEY_KEY": str(root / "relief.key.json"),
                "PARLEY_TOKEN": token,
            }
            command = [PARLEY, "site", "import", str(sheet), "--yes", "--json"]
            results = []
            for _ in range(2):
                started = time.perf_counter()
                done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
                elapsed = time.perf_counter() - started
                if done.returncode != 0:
                    raise SystemExit(f"import failed: {done.stderr[-2000:]}")
                results.append((json.loads(done.stdout), elapsed))
            (first, t1), (second, t2) = results
            assert len(first["accepted"]) == args.n and not first["refused"], first["refused"][:3]
            assert len(second["skipped"]) == args.n and not second["accepted"]
            listed = 0
            cursor = -1
            with httpx.Client(headers={"Authorization": f"Bearer {token}"}) as http:
                while cursor is not None:
                    page = http.get(
                        f"{url}/api/v1/submissions",
                        params={"kind": "site", "cursor": cursor, "limit": 1000},
                    ).json()
                    listed += len(page["items"])
                    cursor = page["next"]
            assert listed == args.n, listed
        finally:
            hub.terminate()
            hub.wait(timeout=30)
    print(f"{args.n} rows imported in {t1:.1f} s: {args.n / t1:.0f} rows/s (goal: under 60 s)")
    print(f"re-import of the same {args.n} rows (all skipped) in {t2:.1f} s")


if __name__ == "__main__":
    main()
