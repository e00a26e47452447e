"""Waking request handlers when something happens in another thread of this process."""

from __future__ import annotations

import asyncio
import contextlib


class Signal:
    """Fired from any thread; awaited by any number of request handlers.

    Each firing wakes everyone waiting at that moment. Waiters re-check their condition after
    waking (and on a timeout), so a firing missed between two waits costs at most the timeout.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._event = asyncio.Event()

    def fire(self, *_: object) -> None:
        self._loop.call_soon_threadsafe(self._fire)

    def _fire(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), max(timeout, 0))
