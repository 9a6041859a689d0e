"""Engine and session factory for SQLite (embedded) and PostgreSQL (production)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session, SessionTransaction

log = logging.getLogger(__name__)


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str, **kwargs) -> AsyncEngine:
    """Create an engine tuned for the backend.

    SQLite gets a single pooled connection: the embedded store serves one
    process, and one connection turns concurrent writers into an orderly queue
    instead of "database is locked" errors under load.
    """
    if is_sqlite(url):
        engine = create_async_engine(url, pool_size=1, max_overflow=0, pool_timeout=120, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 10)
    kwargs.setdefault("pool_pre_ping", True)
    return create_async_engine(url, **kwargs)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # A Session class of its own per factory: session events are registered
    # per class, and one registered for this factory (call_after_commit) must
    # not fire for the sessions of another engine in the same process.
    own_class = type("FactorySession", (Session,), {"__module__": __name__})
    return async_sessionmaker(engine, expire_on_commit=False, sync_session_class=own_class)


def call_after_commit(sessions: async_sessionmaker[AsyncSession], flag: str, callback: Callable[[], None]) -> None:
    """Call `callback` after every COMMIT of a session from `sessions` whose `info` holds `flag`.

    Code in a transaction sets `session.info[flag] = True` to ask for it; the
    flag is dropped when the transaction ends either way, so a rollback calls
    nothing and the next transaction of the same session starts clean. Only
    the outermost transaction counts: releasing a savepoint commits nothing.
    The callback runs in the committing task, right after the commit; an error
    in it is logged, never raised, because the commit has already happened.
    """
    own_class = sessions.kw.get("sync_session_class")
    if not isinstance(own_class, type) or own_class is Session or not issubclass(own_class, Session):
        # A listener on the shared Session class would fire for every engine.
        raise ValueError("call_after_commit needs a session factory made by session_factory()")

    def committed(session: Session) -> None:
        if session.in_nested_transaction() or not session.info.pop(flag, False):
            return
        try:
            callback()
        except Exception:
            log.exception("after-commit callback for %r failed", flag)

    def ended(session: Session, transaction: SessionTransaction) -> None:
        if transaction.parent is None:
            session.info.pop(flag, None)

    event.listen(own_class, "after_commit", committed)
    event.listen(own_class, "after_transaction_end", ended)
