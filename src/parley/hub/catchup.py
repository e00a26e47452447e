"""One catch-up with other processes' records at a time, shared by the requests that wait for it.

When other processes write to the same database (PostgreSQL, or ``parley serve --workers N``),
a request's rules must read a view holding every record committed before the request arrived.
Each request used to read the database for that itself, on the event loop, before its rules: two
processes on PostgreSQL spent about a quarter of their time there (bench/README.md, session 12),
and the loop served nothing while it waited. A catch-up that *started* after a request arrived
sees everything committed before it, so the requests that arrive while one runs share the next
one, and it runs in a thread.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class _Loop:
    running: asyncio.Future[None] | None = None
    #: The catch-up the requests arriving now will share; it starts when ``running`` ends.
    queued: asyncio.Future[None] | None = None
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


class SharedCatchUp:
    def __init__(self, catch_up: Callable[[], None], *, needed: bool) -> None:
        self._catch_up = catch_up
        self._needed = needed
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Loop] = (
            weakref.WeakKeyDictionary()
        )

    async def wait(self) -> None:
        """Return once a catch-up that started after this call has ended (at once when this
        process is the database's only writer: its own commits come in through the hook)."""
        if not self._needed:
            return
        loop = asyncio.get_running_loop()
        state = self._loops.setdefault(loop, _Loop())
        if state.queued is None:
            state.queued = loop.create_future()
        mine = state.queued
        if state.running is None:
            self._start(loop, state)
        # Shielded: a request that gives up must not cancel the others' catch-up.
        await asyncio.shield(mine)

    def _start(self, loop: asyncio.AbstractEventLoop, state: _Loop) -> None:
        assert state.queued is not None
        state.running, state.queued = state.queued, None
        task = loop.create_task(self._run(loop, state, state.running))
        state.tasks.add(task)
        task.add_done_callback(state.tasks.discard)

    async def _run(
        self, loop: asyncio.AbstractEventLoop, state: _Loop, done: asyncio.Future[None]
    ) -> None:
        try:
            await loop.run_in_executor(None, self._catch_up)
        except Exception as exc:  # every request waiting on it reports it
            done.set_exception(exc)
            done.add_done_callback(lambda f: f.exception())  # retrieved, even if none waits
        else:
            done.set_result(None)
        finally:
            if not done.done():  # cancelled: the loop is closing
                done.cancel()
            state.running = None
            if state.queued is not None:
                self._start(loop, state)
