"""Dagster's SQLite event log, without the cost of a new database connection per event.

A build records a few thousand events (every dbt test is an asset check: planned, evaluated,
output). Dagster's `SqliteEventLogStorage` creates an SQLAlchemy engine and a new SQLite
connection for each of them, commits with a full fsync, and closes the connection, which
checkpoints the write-ahead log. Profiling `kpi build` put that at about 12 s of a 86 s build.

This storage keeps one engine per database file (a few, least recently used first out) with
open connections, and commits with `synchronous=NORMAL`, SQLite's recommended setting in WAL
mode: a commit is atomic and the file stays consistent; a power cut may lose the last events.
The UI follows a live run by watching the run's database file for changes, which now happen
at WAL checkpoints only, so the file's time stamp is touched after every write instead.

A batch of events (Dagster sends the events a run plans, one per asset and asset check, as one
batch when `DAGSTER_EVENT_BATCH_SIZE` is set: EVENT_BATCH_SIZE_ENV) is written in one
transaction per database file.
"""

import contextlib
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as db
from dagster import EventLogEntry, Field, StringSource
from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage
from dagster._core.storage.sql import create_engine
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._serdes import ConfigurableClassData
from sqlalchemy.engine import Connection, Engine, Transaction

# the index shard and the runs being written or read at the same time
_MAX_OPEN_ENGINES = 8

# Dagster's switch for writing the events it sends as a batch (the events a run plans) through
# EventLogStorage.store_event_batch, up to this many at a time; unset, it stores them one by one.
EVENT_BATCH_SIZE_ENV = "DAGSTER_EVENT_BATCH_SIZE"
# Above the planned events of a build (about 150: one per asset and dbt test).
EVENT_BATCH_SIZE = 1000


@dataclass
class _WriteBatch:
    """The connections a batch of events writes through, one per database file, each in an
    open transaction; the thread writing the batch holds the storage's lock until they commit."""

    thread: int
    # by database file: the connection, its transaction, its SQLite change count when opened
    open: dict[str, tuple[Connection, Transaction, int]] = field(default_factory=dict)


def _instance_runs_dir() -> str:
    """Where Dagster's own event log keeps its run files, for settings written before kpi named
    the folder (instance folders of earlier versions)."""
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        raise ValueError(
            "PooledSqliteEventLogStorage needs `base_dir` in dagster.yaml when DAGSTER_HOME is "
            "not set: `kpi build` or `kpi ui` writes the instance's settings with it"
        )
    return os.path.join(home, "history", "runs")


class PooledSqliteEventLogStorage(SqliteEventLogStorage):
    """`SqliteEventLogStorage` with pooled connections and WAL-mode commits (module doc)."""

    def __init__(self, base_dir: str | None = None, inst_data: ConfigurableClassData | None = None):
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._engines_lock = threading.Lock()
        self._batch: _WriteBatch | None = None
        super().__init__(base_dir or _instance_runs_dir(), inst_data)

    @classmethod
    def config_type(cls) -> dict[str, Field]:
        # Dagster hands a storage of a class of its own only these settings, not the instance's
        # folder: kpi writes the folder out (build.write_instance_settings).
        return {"base_dir": Field(StringSource, is_required=False)}

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> "PooledSqliteEventLogStorage":
        return cls(inst_data=inst_data, **config_value)

    def _engine_for(self, shard: str) -> Engine:
        with self._engines_lock:
            engine = self._engines.get(shard)
            if engine is not None:
                self._engines.move_to_end(shard)
                return engine
            engine = create_engine(
                self.conn_string_for_shard(shard),
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
                pool_size=2,
                max_overflow=4,
            )
            db.event.listen(engine, "connect", _relax_sync)
            self._engines[shard] = engine
            while len(self._engines) > _MAX_OPEN_ENGINES:
                _, oldest = self._engines.popitem(last=False)
                oldest.dispose()
            return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        batch = self._batch
        if batch is not None and batch.thread == threading.get_ident():
            yield self._batch_connection(batch, shard)
            return
        with self._db_lock:
            with self._ready_engine(shard).connect() as conn:
                sqlite_conn = conn.connection.dbapi_connection
                changes_before = sqlite_conn.total_changes
                with conn.begin():
                    yield conn
                # reads must not touch the file: the UI reads when it changes
                wrote = sqlite_conn.total_changes != changes_before
            if wrote:
                self._touch(shard)

    def _ready_engine(self, shard: str) -> Engine:
        """The engine of `shard`, its database created or upgraded on first use; the caller
        holds the storage's lock."""
        engine = self._engine_for(shard)
        if shard not in self._initialized_dbs:
            self._initdb(engine)
            self._initialized_dbs.add(shard)
        return engine

    def _touch(self, shard: str) -> None:
        """Tell the UI, which watches the file's time stamp, that `shard` was written."""
        path = self.path_for_shard(shard)
        if os.path.exists(path):
            os.utime(path)

    def _batch_connection(self, batch: _WriteBatch, shard: str) -> Connection:
        """The batch's connection to `shard`, opened (and its transaction begun) on first use."""
        if shard not in batch.open:
            conn = self._ready_engine(shard).connect()
            sqlite_conn = conn.connection.dbapi_connection
            batch.open[shard] = (conn, conn.begin(), sqlite_conn.total_changes)
        return batch.open[shard][0]

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        """Store `events` as `store_event` does, in one transaction per database file: the
        events a one-day build plans (about 150) took 0.52 s under the profiler, a commit each. On
        an error nothing of the batch is kept, and Dagster stores the events again one by one."""
        written: list[str] = []
        with self._db_lock:
            batch = self._batch = _WriteBatch(threading.get_ident())
            try:
                for event in events:
                    self.store_event(event)
                for shard, (conn, transaction, changes_before) in batch.open.items():
                    transaction.commit()
                    if conn.connection.dbapi_connection.total_changes != changes_before:
                        written.append(shard)
            finally:
                self._batch = None
                # a transaction still open here is rolled back as its connection closes
                for conn, _, _ in batch.open.values():
                    conn.close()
        for shard in written:
            self._touch(shard)

    def _dispose_engines(self) -> None:
        with self._engines_lock:
            for engine in self._engines.values():
                engine.dispose()
            self._engines.clear()

    def delete_events(self, run_id: str) -> None:
        # Dagster's deletes the run's rows and leaves its database file, about 1.5 MB a build:
        # the file goes as a whole (run_history removes old runs through this).
        with self.index_connection() as conn:
            self.delete_events_for_run(conn, run_id)
        if self.supports_global_concurrency_limits:
            self.free_concurrency_slots_for_run(run_id)
        with self._db_lock, self._engines_lock:
            engine = self._engines.pop(run_id, None)
            if engine is not None:
                engine.dispose()
            self._initialized_dbs.discard(run_id)
            path = self.path_for_shard(run_id)
            for leftover in (path, f"{path}-wal", f"{path}-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(leftover)

    def wipe(self) -> None:
        # the files are deleted: no open connection may keep them alive
        self._dispose_engines()
        super().wipe()

    def dispose(self) -> None:
        self._dispose_engines()
        super().dispose()


def _relax_sync(dbapi_connection: Any, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
