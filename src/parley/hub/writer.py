"""One writer thread per process, committing queued submissions in groups.

Group commit is what makes one-per-request submissions fast: while a transaction commits, the
next requests queue up and go into the following one. It also gives SQLite the single writer it
needs. Callers wait on a future; the event loop is never blocked by the database.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future

from parley.store.db import NewSubmission, Store, Transaction, WithinCommit

Job = tuple[Sequence[NewSubmission], "Future[list[int]]", WithinCommit | None]
log = logging.getLogger("parley.hub")
CommitHook = Callable[[Sequence[NewSubmission], Sequence[int]], None]


class Writer:
    def __init__(
        self,
        store: Store,
        batch_max: int,
        on_commit: CommitHook | None = None,
        within: Sequence[WithinCommit] = (),
    ) -> None:
        self._store = store
        self._batch_max = batch_max
        self._on_commit = on_commit
        self._within = within  # steps run inside each group's transaction, before its commit
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="parley-writer", daemon=True)
        self._thread.start()

    def submit(
        self, records: Sequence[NewSubmission], within: WithinCommit | None = None
    ) -> Future[list[int]]:
        """Queue records for the next group; ``within`` runs inside its transaction, after the
        writer's own steps, with these records and their log indices."""
        future: Future[list[int]] = Future()
        self._queue.put((records, future, within))
        return future

    def alive(self) -> bool:
        """False once the thread has ended: nothing queued would ever be committed."""
        return self._thread.is_alive()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            jobs = [first]
            count = len(first[0])
            stop = False
            while count < self._batch_max:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stop = True
                    break
                jobs.append(job)
                count += len(job[0])
            self._commit(jobs)
            if stop:
                return

    def _commit(self, jobs: list[Job]) -> None:
        flat = [record for records, _, _ in jobs for record in records]
        steps = list(self._within)
        start = 0
        for records, _, step in jobs:
            if step is not None:
                steps.append(_sliced(step, start, len(records)))
            start += len(records)
        try:
            results = self._store.append(flat, steps)
        except Exception as exc:  # the caller's request reports it; the writer must live on
            for _, future, _ in jobs:
                future.set_exception(exc)
            return
        if self._on_commit is not None:
            try:
                self._on_commit(flat, results)
            except Exception:  # the records are stored: their callers must still be answered
                log.exception("the commit hook failed after records were stored")
        start = 0
        for records, future, _ in jobs:
            future.set_result(results[start : start + len(records)])
            start += len(records)


def _sliced(step: WithinCommit, start: int, count: int) -> WithinCommit:
    """A job's step sees its own records of the group, and their log indices."""

    def run(conn: Transaction, records: Sequence[NewSubmission], indices: Sequence[int]) -> None:
        step(conn, records[start : start + count], indices[start : start + count])

    return run
