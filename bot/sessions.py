"""Sessions in the store, with idle expiry that the resident is told about kindly.

A session idle longer than `idle_timeout` (24 h by default) is expired: its half-filled
questionnaire is dropped and, if there was one, the resident hears why on return. The
record itself is kept a week longer than the timeout so that we can say so; after that
it is simply gone.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from bot.store import Item, Store, Unit
from dialogues.engine import Session

NAMESPACE = "session"
DEFAULT_IDLE_TIMEOUT = 24 * 3600.0
GRACE = 7 * 24 * 3600.0


class Sessions:
    def __init__(
        self,
        store: Store,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.idle_timeout = idle_timeout
        self.clock = clock

    @staticmethod
    def item(key: str) -> Item:
        """The session's record, for a unit's reads (`Store.locked`)."""
        return (NAMESPACE, key)

    async def load(self, key: str, unit: Unit | None = None) -> tuple[Session, bool]:
        """The session and whether it just expired with a conversation in progress."""
        data = await (unit or self.store).get(NAMESPACE, key)
        session = Session.from_dict(data) if data else Session()
        now = self.clock()
        expired = False
        if session.last_seen and now - session.last_seen > self.idle_timeout:
            expired = session.flow is not None or session.paused is not None
            session.reset()
            session.handover = None
        session.last_seen = now
        return session, expired

    def save(self, unit: Unit, key: str, session: Session) -> None:
        """Saved when the unit ends (with the rest of the message's writes)."""
        unit.put(NAMESPACE, key, session.to_dict(), ttl=self.idle_timeout + GRACE)

    async def forget(self, key: str) -> None:
        await self.store.delete(NAMESPACE, key)
