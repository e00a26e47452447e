"""``parley mirror``'s loop: start (or refuse to, after a fork), serve, follow, compare, repeat.

Exit codes: 0 after ``--once`` (or an interrupt) with nothing wrong, 1 when the hub could not
be followed in a ``--once`` round or the set-up is wrong, 3 when a fork is known: found now or
recorded by an earlier run. A mirror that has seen a fork stops following and cosigning until
its operator acts: cosigning either branch would vouch for a log that showed two histories.
With ``--serve`` it keeps serving its copy, its last cosigned checkpoint and the evidence until
it is stopped (SIGINT or SIGTERM), then exits 3: the other parties' mirrors compare against
that checkpoint, and would miss the fork if the first mirror to see it went dark.
"""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from types import FrameType

from parley.errors import BadRequest, LogError
from parley.log import note
from parley.log.policy import Policy, PolicyError
from parley.mirroring import datadir
from parley.mirroring.follow import ForkDetected, Mirror
from parley.mirroring.report import Reporter
from parley.mirroring.store import ForkRecord, MirrorStore
from parley.transport import Trust

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_FORK = 3

ALERT_GAP = (
    "the hub has no API through which a party raises an alert on its own stream; "
    "hand this evidence to the other parties and the mission"
)


def _parse_listen(listen: str) -> tuple[str, int]:
    host, sep, port = listen.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise BadRequest(f"--serve {listen!r}: expected HOST:PORT, e.g. 127.0.0.1:7390")
    return host.strip("[]") or "127.0.0.1", int(port)


def _report_fork(reporter: Reporter, record: ForkRecord, now: bool) -> None:
    when = "found now" if now else f"found {record.at} and recorded"
    reporter.event(
        "fork",
        f"FORK ({record.kind}, {when}): {record.summary}; evidence: {record.file}; "
        f"check it with `parley verify fork {record.file} --log-key KEY`",
        kind=record.kind,
        file=record.file,
        detected_at=record.at,
        alert=ALERT_GAP,
    )
    reporter.alarm(
        "THE LOG FORKED",
        f"{record.summary}\n\nevidence: {record.file}\n"
        f"anyone can check it offline: parley verify fork {record.file} --log-key <log key>\n"
        f"{ALERT_GAP}.\nThis mirror will not cosign again until its operator acts.",
    )


class _Server:
    def __init__(
        self, store: MirrorStore, signer: note.CosignatureSigner, origin: str, listen: str
    ) -> None:
        import uvicorn

        from parley.mirroring.serve import create_app

        host, port = _parse_listen(listen)
        self.server = uvicorn.Server(
            uvicorn.Config(
                create_app(store, signer, origin),
                host=host,
                port=port,
                log_level="warning",
                access_log=False,
                timeout_graceful_shutdown=2,
            )
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise BadRequest("the mirror could not listen on the --serve address")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=5)


def _stop(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _hold(reporter: Reporter, server: _Server | None) -> int:
    """After a fork: keep serving (if serving) until stopped; the exit code is the fork's."""
    if server is None:
        return EXIT_FORK
    reporter.event(
        "holding",
        "following stopped; still serving the copy, the last cosigned checkpoint and the "
        "evidence (/mirror/forks) until stopped",
    )
    try:
        while server.thread.is_alive():
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    return EXIT_FORK


def run(
    data_dir: Path,
    hub: str,
    policy_path: Path,
    log_key: str | None = None,
    peers: list[str] | None = None,
    interval: float = 10.0,
    listen: str | None = None,
    once: bool = False,
    as_json: bool = False,
    name: str | None = None,
    workers: int = 16,
    trust: Trust | None = None,
) -> int:
    trust = trust or Trust()
    for url in [hub, *(peers or [])]:
        trust.check(url)
    reporter = Reporter(as_json)
    policy = Policy.parse(policy_path.read_text(encoding="utf-8"), str(policy_path))
    key = log_key or policy.log_key
    if not key:
        raise BadRequest(f"{policy_path} has no `log` line; give the log's key with --log-key")
    try:
        verifier = note.Verifier.from_key(key)
    except note.NoteError as exc:
        raise BadRequest(f"log key: {exc.detail}") from None
    signer, created = datadir.load_or_init(data_dir, name)
    vkey = signer.verifier().key_string()
    if created:
        reporter.event(
            "initialised",
            f"new mirror {signer.name} in {data_dir}; its cosignature verifier key (put it in "
            f"your party's policy): {vkey}",
            name=signer.name,
            verifier_key=vkey,
            key_file=str(datadir.key_path(data_dir)),
        )
    store = MirrorStore(datadir.db_path(data_dir))
    server = _Server(store, signer, verifier.name, listen) if listen else None
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop)
    known = store.forks()
    if known:
        for record in known:
            _report_fork(reporter, record, now=False)
        if server and not once:
            server.start()
            try:
                return _hold(reporter, server)
            finally:
                server.stop()
        return EXIT_FORK
    mirror = Mirror(data_dir, hub, verifier, signer, store, reporter, peers, workers, trust)
    reporter.event(
        "started",
        f"mirror {signer.name} following {hub} (origin {verifier.name}, held size {mirror.size})"
        + (f", serving on {listen}" if listen else ""),
        name=signer.name,
        verifier_key=vkey,
        origin=verifier.name,
        size=mirror.size,
        hub=hub,
        peers=list(peers or []),
    )
    quorum_checked = -1
    try:
        if server:
            server.start()
        with trust.client(timeout=10) as peer_client:
            while True:
                started = time.monotonic()
                try:
                    mirror.sync()
                    if mirror.head and mirror.size != quorum_checked:
                        quorum_checked = mirror.size
                        try:
                            _, signed_by = mirror.ring.verify_detailed(mirror.head.note)
                            policy.check(mirror.head.note, signed_by, verifier.name)
                        except PolicyError as exc:
                            reporter.event("warning", f"the hub's checkpoint: {exc.detail}")
                    mirror.check_peers(peer_client)
                except ForkDetected:
                    _report_fork(reporter, store.forks()[-1], now=True)
                    return _hold(reporter, None if once else server)
                except LogError as exc:
                    reporter.event("error", exc.detail)
                    if once:
                        return EXIT_ERROR
                if once:
                    return EXIT_OK
                time.sleep(max(0.0, interval - (time.monotonic() - started)))
    except KeyboardInterrupt:
        reporter.event("stopped", "interrupted")
        return EXIT_OK
    finally:
        if server:
            server.stop()
        mirror.close()
