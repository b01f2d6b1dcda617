"""One turn at a time per conversation, across threads and processes: a lease on the session row.

Replicas share the database, so the lock lives there: a worker takes the session by writing its
owner id and a lease end into `chat_sessions` in one conditional UPDATE, renews the lease while it
works, and clears it when done. A worker that dies leaves a lease that simply runs out, after which
the next turn takes the session. `ahold` is the same for async turns: it waits with `asyncio.sleep`
(no thread held while the session is busy) and runs each short UPDATE in a worker thread; the
`Lease` it yields can be given back inside another transaction (the turn's reply), saving a commit.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import CursorResult, Engine, Update, or_, update
from sqlalchemy.orm import Session, sessionmaker

from storage.models import ChatSession


class TurnBusyError(TimeoutError):
    """Another turn held the conversation for longer than this one was willing to wait."""


def _release_statement(session_id: str, owner: str) -> Update:
    return (
        update(ChatSession)
        .where(ChatSession.id == session_id, ChatSession.turn_owner == owner)
        .values(turn_owner=None, turn_until=None)
    )


class Lease:
    """A held session (from `TurnLock.ahold`). `release_in(db)` gives it back inside the caller's
    transaction; once that has committed, `released()` tells `ahold` that nothing is left to do."""

    def __init__(self, session_id: str, owner: str) -> None:
        self.session_id = session_id
        self.owner = owner
        self.is_released = False

    def release_in(self, db: Session) -> None:
        db.execute(_release_statement(self.session_id, self.owner))

    def released(self) -> None:
        self.is_released = True


class TurnLock:
    """`with lock.hold(session_id): ...` runs the block while no other worker answers that session."""

    def __init__(self, engine: Engine, *, lease_s: float = 30.0, wait_s: float = 900.0) -> None:
        self._sessions = sessionmaker(engine)
        self.lease_s = lease_s
        self.wait_s = wait_s

    def _try_take(self, session_id: str, owner: str) -> bool:
        now = datetime.now(UTC)
        with self._sessions.begin() as db:
            taken: CursorResult[Any] = db.execute(  # type: ignore[assignment]
                update(ChatSession)
                .where(
                    ChatSession.id == session_id,
                    or_(ChatSession.turn_owner.is_(None), ChatSession.turn_until < now),
                )
                .values(turn_owner=owner, turn_until=now + timedelta(seconds=self.lease_s))
            )
            return taken.rowcount == 1

    def _renew(self, session_id: str, owner: str) -> None:
        with self._sessions.begin() as db:
            db.execute(
                update(ChatSession)
                .where(ChatSession.id == session_id, ChatSession.turn_owner == owner)
                .values(turn_until=datetime.now(UTC) + timedelta(seconds=self.lease_s))
            )

    def _release(self, session_id: str, owner: str) -> None:
        with self._sessions.begin() as db:
            db.execute(_release_statement(session_id, owner))

    @contextmanager
    def hold(self, session_id: str) -> Iterator[None]:
        """Wait (polling, up to `wait_s`) until the session is free, then hold it for the block."""
        owner = secrets.token_hex(16)
        deadline = time.monotonic() + self.wait_s
        pause = 0.02
        while not self._try_take(session_id, owner):
            if time.monotonic() > deadline:
                raise TurnBusyError(f"session {session_id} stayed busy for {self.wait_s:.0f} s")
            time.sleep(pause)
            pause = min(pause * 1.5, 0.25)
        stop = threading.Event()

        def keep_alive() -> None:
            while not stop.wait(self.lease_s / 3):
                self._renew(session_id, owner)

        renewer = threading.Thread(target=keep_alive, name=f"turn-lease-{session_id[:8]}", daemon=True)
        renewer.start()
        try:
            yield
        finally:
            stop.set()
            renewer.join()
            self._release(session_id, owner)

    async def _atake(self, session_id: str, owner: str) -> bool:
        taking = asyncio.ensure_future(asyncio.to_thread(self._try_take, session_id, owner))
        try:
            return await asyncio.shield(taking)
        except asyncio.CancelledError:
            # Cancelled while the UPDATE ran: a lease it took is given back, not left to run out.
            if await taking:
                await asyncio.to_thread(self._release, session_id, owner)
            raise

    @asynccontextmanager
    async def ahold(self, session_id: str) -> AsyncIterator[Lease]:
        """`hold` for async code: polls with `asyncio.sleep`, renews the lease from a task. The block
        may give the lease back itself (`Lease.release_in`); otherwise it is released at the end."""
        owner = secrets.token_hex(16)
        deadline = time.monotonic() + self.wait_s
        pause = 0.02
        while not await self._atake(session_id, owner):
            if time.monotonic() > deadline:
                raise TurnBusyError(f"session {session_id} stayed busy for {self.wait_s:.0f} s")
            await asyncio.sleep(pause)
            pause = min(pause * 1.5, 0.25)

        async def keep_alive() -> None:
            while True:
                await asyncio.sleep(self.lease_s / 3)
                await asyncio.to_thread(self._renew, session_id, owner)

        renewer = asyncio.create_task(keep_alive(), name=f"turn-lease-{session_id[:8]}")
        lease = Lease(session_id, owner)
        try:
            yield lease
        finally:
            renewer.cancel()
            if not lease.is_released:
                # Released even if this task is cancelled again meanwhile: the UPDATE runs to its end.
                await asyncio.shield(asyncio.to_thread(self._release, session_id, owner))
