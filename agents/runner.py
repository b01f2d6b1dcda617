"""Runs a turn in a thread of its own, so the turn finishes and is stored whatever the client does.

The web layer reads the turn's events from a queue; a browser that closes the tab or an HTTP
client that disconnects mid-stream only stops reading, and the reply is committed as usual.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from typing import TypeVar, cast

T = TypeVar("T")
_END = object()


class _Raised:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def run_detached(produce: Callable[[], Iterator[T]]) -> Iterator[T]:
    """Iterate `produce()` in a daemon thread; yield its items here, re-raising its exception."""
    items: queue.Queue[object] = queue.Queue()

    def work() -> None:
        try:
            for item in produce():
                items.put(item)
        except BaseException as exc:  # handed to the reader, who decides what it means
            items.put(_Raised(exc))
        finally:
            items.put(_END)

    def read() -> Iterator[T]:
        while True:
            item = items.get()
            if item is _END:
                return
            if isinstance(item, _Raised):
                raise item.exc
            yield cast(T, item)

    threading.Thread(target=work, name="turn", daemon=True).start()
    return read()
