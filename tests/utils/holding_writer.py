"""A writer that holds the database's write lock (SQLite) or a row (PostgreSQL) until released."""

from __future__ import annotations

import threading
from types import TracebackType

from sqlalchemy.orm import Session, sessionmaker

from store.db import transaction
from store.kv import set_setting


class HoldingWriter:
    """Another connection inside a write transaction (it wrote `key`) until the block ends."""

    def __init__(self, sessions: sessionmaker[Session], key: str = "written", value: object = 1):
        self._sessions, self._key, self._value = sessions, key, value
        self._wrote, self._release = threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with transaction(self._sessions) as session:
            set_setting(session, self._key, self._value)
            session.flush()
            self._wrote.set()
            self._release.wait(60)

    def __enter__(self) -> HoldingWriter:
        self._thread.start()
        assert self._wrote.wait(30), "the writer did not start"
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._release.set()
        self._thread.join(60)
        assert not self._thread.is_alive(), "the writer did not finish"
