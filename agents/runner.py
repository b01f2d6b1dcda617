"""Runs async turns for synchronous callers (the Gradio chat, the CLI, webhooks): each turn is a task
on one process-wide event loop in a background thread, its events handed over through a queue.

No thread per turn: a turn waiting for tokens is a suspended task. `detached` turns finish and are
stored whatever the reader does (a browser that closes the tab only stops reading); an attached
turn is cancelled when its reader stops, and has ended (its message marked failed) by then.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TypeVar, cast

T = TypeVar("T")
_END = object()
_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


class _Raised:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def turn_loop() -> asyncio.AbstractEventLoop:
    """The process's background event loop for turns (started on first use, a daemon thread)."""
    global _loop
    with _loop_lock:
        if _loop is None:
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="turn-loop", daemon=True).start()
            _loop = loop
        return _loop


def run_sync(produce: Callable[[], AsyncIterator[T]], *, detached: bool) -> Iterator[T]:
    """Iterate `produce()` as a task on `turn_loop()`; yield its items here, re-raising its exception."""
    items: queue.SimpleQueue[object] = queue.SimpleQueue()

    async def work() -> None:
        try:
            async for item in produce():
                items.put(item)
        except BaseException as exc:  # handed to the reader, who decides what it means
            items.put(_Raised(exc))
        finally:
            items.put(_END)

    task = asyncio.run_coroutine_threadsafe(work(), turn_loop())

    def read() -> Iterator[T]:
        ended = False
        try:
            while True:
                item = items.get()
                if item is _END:
                    ended = True
                    return
                if isinstance(item, _Raised):
                    ended = True
                    raise item.exc
                yield cast(T, item)
        finally:
            if not ended and not detached:
                # The reader stopped: stop the turn and wait until it has cleaned up.
                task.cancel()
                while items.get() is not _END:
                    pass

    return read()
