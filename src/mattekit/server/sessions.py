"""The server's sessions: at most ``max_sessions`` of them, each dropped ``ttl`` seconds after its last use.

Past the cap, the session unused the longest goes first, so memory stays bounded. Expired sessions are swept on
every access. Each entry carries an ``asyncio.Lock`` that keeps one session's requests in order.

Example:
    >>> store = SessionStore(max_sessions=2, ttl=900)
    >>> first, second = store.add("a"), store.add("b")
    >>> third = store.add("c")               # the cap is reached: the oldest, "a", is evicted
    >>> len(store), store.get(third).session
    (2, 'c')
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field


class UnknownSession(LookupError):
    """A session id that was never issued, was deleted, was evicted or has expired."""


@dataclass
class Entry:
    """One session as the store keeps it."""

    session: object
    last_used: float
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class SessionStore:
    """Sessions by id in least-recently-used order; ``clock`` gives seconds (monotonic)."""

    def __init__(self, max_sessions: int, ttl: float, clock=time.monotonic):
        self.max_sessions = max_sessions
        self.ttl = ttl
        self.clock = clock
        self._entries: OrderedDict[str, Entry] = OrderedDict()
        self.evicted = 0  # sessions dropped by the cap or the TTL, for the logs and the load test

    def __len__(self) -> int:
        self.sweep()
        return len(self._entries)

    def add(self, session) -> str:
        """Keep ``session``; returns its new id (evicting the least recently used past the cap)."""
        self.sweep()
        while len(self._entries) >= self.max_sessions:
            self._entries.popitem(last=False)
            self.evicted += 1
        key = secrets.token_urlsafe(12)
        self._entries[key] = Entry(session, self.clock())
        return key

    def get(self, key: str) -> Entry:
        """The entry of ``key``, marked as just used; UnknownSession if there is none."""
        self.sweep()
        entry = self._entries.get(key)
        if entry is None:
            raise UnknownSession(f"session {key!r} does not exist or has expired (sessions last {self.ttl:g} s "
                                 f"after their last use, at most {self.max_sessions} at a time); start a new one.")
        entry.last_used = self.clock()
        self._entries.move_to_end(key)
        return entry

    def delete(self, key: str) -> None:
        """Drop ``key``; UnknownSession if there is none."""
        self.get(key)
        del self._entries[key]

    def sweep(self) -> None:
        """Drop every session unused for longer than the TTL."""
        now = self.clock()
        while self._entries:
            key, entry = next(iter(self._entries.items()))
            if now - entry.last_used <= self.ttl:
                break
            del self._entries[key]
            self.evicted += 1
