"""Where turns run: as tasks on one process-wide event loop in a background thread.

All turns run there, whoever asks: the REST API's async routes (`run_async`, on the server's loop)
and synchronous callers, the Gradio chat, the CLI and webhooks (`run_sync`). One loop owns the
model client's connections (an async HTTP client's pool belongs to the loop that opened it), and a
turn waiting for tokens is a suspended task, not a thread.

A `detached` turn finishes and is stored whatever its reader does (a browser that closes the tab
only stops reading); an attached one is cancelled when its reader stops, and has ended (its message
marked failed) by the time the reader's close returns.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar, cast

T = TypeVar("T")
log = logging.getLogger(__name__)
_END = object()
# Threads for the turns' short blocking work (`asyncio.to_thread`: store writes, retrieval, the answer
# check). Enough that the queries of concurrent turns meet in one embedding batch; a fixed number,
# whatever the number of turns (128 did no better over vLLM on an H100, bench/README.md).
WORKERS = 32
_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


class _Raised:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def turn_loop() -> asyncio.AbstractEventLoop:
    """The process's event loop for turns (started on first use, in a daemon thread)."""
    global _loop
    with _loop_lock:
        if _loop is None:
            loop = _new_loop()
            loop.set_default_executor(ThreadPoolExecutor(WORKERS, thread_name_prefix="turn-work"))
            threading.Thread(target=loop.run_forever, name="turn-loop", daemon=True).start()
            _loop = loop
        return _loop


def _new_loop() -> asyncio.AbstractEventLoop:
    """uvloop where it is installed (it is with uvicorn[standard]): every chunk a turn streams wakes
    the loop, and uvloop does that for less CPU than asyncio's selector loop."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - a platform without uvloop (Windows)
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def _start(produce: Callable[[], AsyncIterator[T]], put: Callable[[object], None]) -> Callable[[], None]:
    """Run `produce()` as a task on the turn loop, `put`ting each item, then its exception (if any)
    and `_END`; returns a function that cancels it (from any thread)."""
    loop = turn_loop()
    tasks: list[asyncio.Task[None]] = []

    async def work() -> None:
        async for item in produce():
            put(item)

    def ended(task: asyncio.Task[None]) -> None:
        # A done callback, so that a task cancelled before its first step still says it ended.
        if task.cancelled():
            put(_Raised(asyncio.CancelledError()))
        elif (exc := task.exception()) is not None:
            put(_Raised(exc))
        put(_END)

    def create() -> None:
        task = loop.create_task(work())
        task.add_done_callback(ended)
        tasks.append(task)

    def cancel() -> None:
        # Callbacks run in order: `create` has run before this one does.
        loop.call_soon_threadsafe(lambda: tasks[0].cancel())

    loop.call_soon_threadsafe(create)
    return cancel


def run_sync(produce: Callable[[], AsyncIterator[T]], *, detached: bool) -> Iterator[T]:
    """Iterate `produce()` on the turn loop; yield its items here, re-raising its exception."""
    items: queue.SimpleQueue[object] = queue.SimpleQueue()
    cancel = _start(produce, items.put)

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
                cancel()
                while items.get() is not _END:
                    pass

    return read()


async def run_async(produce: Callable[[], AsyncIterator[T]], *, detached: bool) -> AsyncGenerator[T, None]:
    """Iterate `produce()` on the turn loop from another event loop (the web server's). Closing or
    cancelling this generator cancels an attached turn, and returns once the turn has cleaned up."""
    caller = asyncio.get_running_loop()
    items: asyncio.Queue[object] = asyncio.Queue()

    def put(item: object) -> None:
        try:
            caller.call_soon_threadsafe(items.put_nowait, item)
        except RuntimeError:  # the caller's loop is closed: nobody reads any more
            pass

    cancel = _start(produce, put)
    ended = False
    try:
        while True:
            item = await items.get()
            if item is _END:
                ended = True
                return
            if isinstance(item, _Raised):
                ended = True
                raise item.exc
            yield cast(T, item)
    finally:
        if not ended and not detached:
            cancel()
            while await items.get() is not _END:
                pass


def run_in_background(produce: Callable[[], AsyncIterator[object]], *, what: str) -> None:
    """Run `produce()` to its end on the turn loop with nobody reading; a failure is logged."""

    def put(item: object) -> None:
        if isinstance(item, _Raised):
            log.warning("%s failed: %s: %s", what, type(item.exc).__name__, item.exc)

    _start(produce, put)
