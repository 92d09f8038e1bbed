"""`kpi`: the one command-line entry point of the warehouse."""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import logging
import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

from dagster_project import build_guard, dbt_worker, disk_space, run_history, settings
from dagster_project.engines import ENGINES

if TYPE_CHECKING:
    import duckdb

    from dagster_project.build import BuildOutcome
    from dagster_project.extracts.manifest import ExtractManifest

EXAMPLE_QUERY = (
    "select agency_code, period_start, staff_count, round(avg_daily_hours, 2) as avg_hours, "
    "staff_over, staff_under from marts.agency_productivity where period_type = 'month' "
    "order by agency_code, period_start limit 20"
)


def _add_path_options(parser: argparse.ArgumentParser, raw: bool = True) -> None:
    if raw:
        parser.add_argument(
            "--raw",
            type=Path,
            default=None,
            help=f"landing zone of the exports (default: ${settings.RAW_DIR_ENV} or raw/)",
        )
    parser.add_argument(
        "--warehouse",
        type=Path,
        default=None,
        help=f"DuckDB warehouse file (default: ${settings.WAREHOUSE_ENV} or data/warehouse.duckdb)",
    )


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off while a build imports Dagster, dagster-dbt and dbt,
    and their objects left out of its later passes: the imports make some 300,000 objects that
    live as long as the process and no garbage, and the passes over them took 0.5 s of the 2.3 s
    the imports take, before any step of a build can start."""
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


@contextlib.contextmanager
def _dbt_core_hidden() -> Iterator[None]:
    """dbt-core out of reach while a build loads its definitions. dbt runs in a process of its
    own (dbt_worker.py); this one only hands it commands and reads its log lines, yet
    dagster-dbt imports dbt-core whenever it is installed, to name a few enums it also defines
    itself (the same values) for a Python without dbt-core: 0.8 s of the 1.9 s the definitions
    take to load, before any step of a build can start. dagster-dbt asks for `dbt.version`
    first and falls back when the import fails (dagster_dbt/compat.py of the pinned release;
    tests/test_cli.py checks both sets of enums agree)."""
    hidden = "dbt.version"
    if hidden in sys.modules:  # loaded already (a test's process): nothing to save
        yield
        return
    sys.modules[hidden] = None  # type: ignore[assignment]  # an import of it raises ImportError
    try:
        yield
    finally:
        del sys.modules[hidden]


def _execute_build(
    raw_dir: Path,
    warehouse_file: Path,
    full_refresh: bool,
    rebuild: tuple[str | None, str | None],
    engine: str,
    lock_fd: int | None,
) -> BuildOutcome:
    # dbt starts now and parses the project on the other core while this process loads Dagster
    # and ingests the new files; the dbt step then finds it ready (dbt_worker.py). It holds the
    # build's lock with this process: a dbt command outliving a killed build keeps others out.
    keep = () if lock_fd is None else (lock_fd,)
    worker = dbt_worker.start_for_build(warehouse_file, keep) if engine == "duckdb" else None
    from dagster_project import snapshot

    snapshot.prefetch_previous_snapshot(warehouse_file)
    prepared = None
    try:
        with _collector_paused(), _dbt_core_hidden():
            from dagster_project.build import BuildScope, execute_build, prepare_build

            prepared = prepare_build(raw_dir, warehouse_file, engine)
        scope = BuildScope(
            full_refresh=full_refresh, rebuild_from=rebuild[0], rebuild_to=rebuild[1]
        )
        outcome = execute_build(prepared, scope)
    finally:
        if prepared is not None:
            # Closed, the run history's SQLite files fold their write-ahead logs in; left open
            # at exit, each run's file kept a 4 MB log beside it for good.
            prepared.instance.dispose()
        if worker is not None:
            worker.stop()
        snapshot.discard_prefetched_snapshot(warehouse_file)
    return outcome


def _build(
    raw: Path | None,
    warehouse: Path | None,
    full_refresh: bool = False,
    rebuild: tuple[str | None, str | None] = (None, None),
    engine: str = "duckdb",
) -> int:
    raw_dir, warehouse_file = settings.use_paths(raw, warehouse)
    if engine == "spark":
        from dagster_project.engines.spark import missing_requirements

        if problem := missing_requirements():
            print(f"Cannot build on Spark: {problem}", file=sys.stderr)
            return 2
    try:
        history_days = run_history.run_history_days()
    except ValueError as problem:
        print(f"Build not started: {problem}", file=sys.stderr)
        return 2
    on = " on Spark" if engine == "spark" else ""
    print(f"Building {warehouse_file}{on} from {raw_dir}", file=sys.stderr)
    try:
        with build_guard.exclusive_build(warehouse_file) as lock_fd:
            outcome = _execute_build(
                raw_dir, warehouse_file, full_refresh, rebuild, engine, lock_fd
            )
    except build_guard.BuildInProgress as busy:
        print(f"Build not started: {busy}", file=sys.stderr)
        return 1
    except Exception as error:
        # A full disk fails whichever writer meets it first, Dagster's run history among them.
        full = disk_space.full_disk([disk_space.error_text(error)], warehouse_file.parent)
        if full is None:
            raise
        print(f"Build failed: {full} ({disk_space.innermost_cause(error)}).", file=sys.stderr)
        for line in disk_space.BUILD_ADVICE:
            print(f"  {line}", file=sys.stderr)
        return 1
    if outcome.success:
        if engine == "spark":
            from dagster_project.engines.spark import spark_paths

            marts = spark_paths(warehouse_file).warehouse
            print(f"Build succeeded: Spark tables in {marts}", file=sys.stderr)
            return 0
        print(f"Build succeeded: {warehouse_file} ({outcome.summary})", file=sys.stderr)
        _print_files_left_out(outcome.not_loaded, raw_dir)
        _print_runs_removed(outcome.runs_removed, history_days)
        return 0
    print("Build failed:", file=sys.stderr)
    for where, reason in outcome.failures or [("run", "see the Dagster run log")]:
        lines = reason.splitlines()
        if len(lines) <= 1:
            print(f"  {where}: {reason}", file=sys.stderr)
            continue
        # A step that fails for several reasons (ingestion: a line per failed source) would
        # otherwise print its second and later reasons flush left, under no step.
        print(f"  {where}:", file=sys.stderr)
        for line in lines:
            print(f"    {line}", file=sys.stderr)
    _print_files_left_out(outcome.not_loaded, raw_dir)
    if outcome.log_file is not None:
        print(f"dbt's log of this build: {outcome.log_file}", file=sys.stderr)
    reasons = [reason for _, reason in outcome.failures]
    if full := disk_space.full_disk(reasons, warehouse_file.parent):
        print(f"The build stopped because {full}.", file=sys.stderr)
        for line in disk_space.BUILD_ADVICE:
            print(f"  {line}", file=sys.stderr)
    return 1


def _print_runs_removed(runs: list[str], history_days: int | None) -> None:
    if runs:
        print(
            f"Run history: {len(runs)} finished run(s) older than {history_days} days removed "
            f"({run_history.RUN_HISTORY_DAYS_ENV}; 0 keeps every run)",
            file=sys.stderr,
        )


def _print_files_left_out(not_loaded: list[str], raw_dir: Path) -> None:
    """A build that loads nothing of a file still succeeds: the person running it is told, and
    of what the raw folder holds outside its source folders."""
    from dagster_project.ingest import stray_entries

    strays = stray_entries(raw_dir)
    if not_loaded:
        print(
            f"Not loaded ({len(not_loaded)} file{'s' if len(not_loaded) > 1 else ''}; "
            "audit.ingestion_ledger keeps the rejected ones):",
            file=sys.stderr,
        )
        for line in not_loaded:
            print(f"  {line}", file=sys.stderr)
    if strays:
        print(f"Outside the source folders of {raw_dir} (not loaded):", file=sys.stderr)
        for line in strays:
            print(f"  {line}", file=sys.stderr)


def _month_arg(value: str) -> str:
    try:
        datetime.strptime(value, "%Y-%m")
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{value}' is not a month as YYYY-MM") from None
    return value


def cmd_build(args: argparse.Namespace) -> int:
    if args.full_refresh and (args.rebuild_from or args.rebuild_to):
        print("--full-refresh rebuilds every month: leave out --from/--to", file=sys.stderr)
        return 2
    if args.rebuild_from and args.rebuild_to and args.rebuild_to < args.rebuild_from:
        print(f"--to {args.rebuild_to} is before --from {args.rebuild_from}", file=sys.stderr)
        return 2
    if args.engine == "spark" and (args.full_refresh or args.rebuild_from or args.rebuild_to):
        print(
            "--engine spark always rebuilds every month: leave out --full-refresh, --from and --to",
            file=sys.stderr,
        )
        return 2
    return _build(
        args.raw,
        args.warehouse,
        args.full_refresh,
        (args.rebuild_from, args.rebuild_to),
        args.engine,
    )


def cmd_generate(args: argparse.Namespace) -> int:
    from dagster_project.generator import generate

    summary = generate(
        args.out,
        seed=args.seed,
        start=args.start,
        end=args.end,
        scale=args.scale,
        formats=args.formats,
        clean=args.clean,
        append_day=args.append_day,
        progress=sys.stderr.isatty(),
    )
    rows = ", ".join(f"{source} {count:,}" for source, count in summary.rows.items())
    print(
        f"Wrote {len(summary.files)} files to {summary.out_dir} in {summary.seconds:.0f} s: {rows}",
        file=sys.stderr,
    )
    return 0


def _print_query(con: duckdb.DuckDBPyConnection, query: str, as_csv: bool, max_rows: int) -> bool:
    import duckdb

    try:
        relation = con.sql(query)
        if relation is None:
            return True
        if as_csv:
            relation.to_df().to_csv(sys.stdout, index=False)
        else:
            relation.show(max_rows=max_rows, max_width=200)
    except duckdb.Error as error:
        print(f"Query failed: {error}", file=sys.stderr)
        return False
    return True


# What ends an interactive session besides Ctrl-D: DuckDB's and psql's words for it.
_QUIT_COMMANDS = {".quit", ".exit", "\\q", "quit", "exit"}


def _read_queries() -> Iterator[str]:
    """Statements typed at an interactive prompt, each ended by ';' (or a blank line); `.quit`
    (or Ctrl-D) ends the session, Ctrl-C drops the statement being typed."""
    buffer: list[str] = []
    # prompts only for a person typing: statements piped in would get them in their output
    prompts = ("kpi> ", "...> ") if sys.stdin.isatty() else ("", "")
    while True:
        try:
            line = input(prompts[1] if buffer else prompts[0])
        except EOFError:
            break
        except KeyboardInterrupt:
            print(file=sys.stderr)
            buffer = []
            continue
        if not buffer and line.strip().rstrip(";").lower() in _QUIT_COMMANDS:
            return
        buffer.append(line)
        text = "\n".join(buffer).strip()
        if text.endswith(";") or (not line.strip() and text):
            yield text.rstrip(";")
            buffer = []
    if buffer and "\n".join(buffer).strip():
        yield "\n".join(buffer).strip().rstrip(";")


def _open_warehouse_read_only(warehouse: Path) -> duckdb.DuckDBPyConnection | None:
    """A read-only connection to the warehouse; None, said why, while a build writes it."""
    import duckdb

    try:
        return duckdb.connect(str(warehouse), read_only=True)
    except duckdb.IOException as error:
        if not settings.held_by_another_process(error):
            raise
        print(
            f"Query not run: a build is writing {warehouse} now; query again when it has "
            f"finished ({error})",
            file=sys.stderr,
        )
        return None


def cmd_sql(args: argparse.Namespace) -> int:
    from dagster_project.snapshot import snapshot_paths

    _, warehouse_file = settings.use_paths(None, args.warehouse)
    database = warehouse_file if args.audit else snapshot_paths(warehouse_file).database
    if not database.exists():
        what = "No warehouse" if args.audit else "No published snapshot"
        print(f"{what} at {database}: run `kpi build` first.", file=sys.stderr)
        return 1
    with contextlib.ExitStack() as session:
        if args.audit:
            # The warehouse itself, opened for each statement and closed after it: a build
            # cannot open the file while a query holds it, and a prompt left open would keep
            # every build out.
            def run(query: str) -> bool:
                con = _open_warehouse_read_only(database)
                if con is None:
                    return False
                # The answer is shown once the file is closed: whoever reads it (a person, or a
                # script driving the prompt) may start a build at once.
                answer = io.StringIO()
                with con, contextlib.redirect_stdout(answer):
                    succeeded = _print_query(con, query, args.csv, args.max_rows)
                sys.stdout.write(answer.getvalue())
                sys.stdout.flush()
                return succeeded

            opened = f"{database}, opened for each statement"
        else:
            # The snapshot, never the warehouse: a query must not block (or see) a build.
            import duckdb

            snapshot = session.enter_context(duckdb.connect(str(database), read_only=True))

            def run(query: str) -> bool:
                return _print_query(snapshot, query, args.csv, args.max_rows)

            opened = str(database)
        if args.query:
            return 0 if run(args.query) else 1
        with contextlib.suppress(ImportError):
            import readline  # noqa: F401 - line editing and history at the prompt
        print(
            f"Connected to {opened} (read-only). End statements with ';', leave with .quit.",
            file=sys.stderr,
        )
        for query in _read_queries():
            run(query)
    return 0


def cmd_extract(args: argparse.Namespace) -> int:
    from dagster_project.extracts import ExtractError, write_extracts

    _, warehouse_file = settings.use_paths(None, args.warehouse)
    out_dir = (args.out or settings.exports_dir()).resolve()
    try:
        manifest = write_extracts(warehouse_file, args.period, out_dir)
    except ExtractError as error:
        print(f"Extract failed: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        if not _explain_full_disk_under_extracts(error, out_dir):
            raise
        return 1
    for extract in manifest.files:
        print(out_dir / extract.name)
    print(manifest.path)
    return 0


def cmd_docs(args: argparse.Namespace) -> int:
    _, warehouse_file = settings.use_paths(None, args.warehouse)
    docs_dir = warehouse_file.parent / "docs"
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "dbt"),
            "docs",
            "generate",
            "--static",
            "--target-path",
            str(docs_dir),
            "--quiet",
        ],
        cwd=settings.DBT_PROJECT_DIR,
        env={**os.environ, "DBT_PROFILES_DIR": str(settings.DBT_PROJECT_DIR)},
    )
    if result.returncode != 0:
        print("dbt docs generate failed (is a build running on this warehouse?)", file=sys.stderr)
        return result.returncode
    print(f"Documentation site: {docs_dir / 'static_index.html'} (one file, open it in a browser)")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    raw_dir, warehouse_file = settings.use_paths(args.raw, args.warehouse)
    if not raw_dir.exists() or not any(raw_dir.iterdir()) or _only_readme(raw_dir):
        print(f"{raw_dir} is empty: generating the demo dataset.", file=sys.stderr)
        from dagster_project.generator import generate

        generate(raw_dir, progress=sys.stderr.isatty())
    status = _build(raw_dir, warehouse_file)
    if status != 0:
        return status
    try:
        extracts = _write_latest_extracts(warehouse_file)
    except OSError as error:
        if not _explain_full_disk_under_extracts(error, settings.exports_dir()):
            raise
        return 1
    print(_run_summary(raw_dir, warehouse_file, extracts))
    return 0


def _run_summary(raw_dir: Path, warehouse_file: Path, extracts: ExtractManifest) -> str:
    """Where `kpi run` put what each kind of user reads, and commands that read this warehouse
    (with --warehouse and --raw when not the default ones, so they can be pasted as printed)."""
    from dagster_project.assets.planning import WORKBOOK_NAME
    from dagster_project.snapshot import snapshot_paths

    kpi = _shown_path(Path(sys.executable).parent / "kpi")
    this_warehouse = _option("--warehouse", warehouse_file, settings.DEFAULT_WAREHOUSE)
    this_raw = _option("--raw", raw_dir, settings.DEFAULT_RAW_DIR)
    out_dir = extracts.path.parent if extracts.path else settings.exports_dir()
    province = [extract.name for extract in extracts.files if extract.kind == "province"]
    agencies = [extract for extract in extracts.files if extract.kind == "agency"]
    plan_workbook = warehouse_file.parent / WORKBOOK_NAME
    return "".join(
        [
            f"\nWarehouse: {warehouse_file}\n",
            f"Leadership workbooks of {extracts.period}: {out_dir}\n",
            f"  {', '.join(province)} (the province) and {len(agencies)} agencies' ",
            f"({extracts.period}_<agency>.xlsx); checksums in {extracts.period}_manifest.json\n",
            f"Planner's workbook: {plan_workbook}\n" if plan_workbook.is_file() else "",
            f"Analysts' snapshot: {snapshot_paths(warehouse_file).database}\n",
            f'Try a query:\n  {kpi} sql{this_warehouse} "{EXAMPLE_QUERY}"\n',
            f"Or browse the asset graph:\n  {kpi} ui{this_raw}{this_warehouse}",
        ]
    )


def _option(flag: str, path: Path, default: Path) -> str:
    """` FLAG PATH` for a command line, or nothing when `path` is the default."""
    return "" if path == default.resolve() else f" {flag} {shlex.quote(str(path))}"


def _shown_path(path: Path) -> str:
    """`path` relative to the working folder when it lies under it, as a user would type it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _write_latest_extracts(warehouse_file: Path) -> ExtractManifest:
    """The workbooks of the latest month with data, as leadership would receive them."""
    import duckdb

    from dagster_project.extracts import write_extracts

    with duckdb.connect(str(warehouse_file), read_only=True) as con:
        (latest,) = con.execute(
            "select max(period_start) from marts.agency_productivity where period_type = 'month'"
        ).fetchone()
    return write_extracts(warehouse_file, latest.strftime("%Y-%m"), settings.exports_dir())


def _explain_full_disk_under_extracts(error: OSError, out_dir: Path) -> bool:
    """Tell the person the workbooks stopped for want of space; False for another error."""
    full = disk_space.full_disk([disk_space.error_text(error)], out_dir)
    if full is None:
        return False
    print(f"Extract failed: {full} ({disk_space.innermost_cause(error)}).", file=sys.stderr)
    print(f"  {disk_space.EXTRACT_ADVICE}", file=sys.stderr)
    return True


def _only_readme(folder: Path) -> bool:
    return [p.name for p in folder.iterdir()] == ["README.md"]


class _SettlesRuns(Protocol):
    # the notes on the runs whose process was gone, settled before the file was touched
    settled_runs: list[str]


WholeFileResult = TypeVar("WholeFileResult", bound=_SettlesRuns)


def _unless_refused(
    not_done: str, operation: Callable[[], WholeFileResult]
) -> WholeFileResult | None:
    """The result of a backup, restore or compaction, once the runs it settled are printed;
    None once the reason it was refused (a build or run in progress, a damaged backup, no room)
    is printed after `not_done`."""
    from dagster_project.backup import BackupError

    try:
        result = operation()
    except (BackupError, build_guard.BuildInProgress) as problem:
        print(f"{not_done}: {problem}", file=sys.stderr)
        return None
    for note in result.settled_runs:
        print(note, file=sys.stderr)
    return result


def cmd_backup(args: argparse.Namespace) -> int:
    from dagster_project.backup import back_up

    _, warehouse_file = settings.use_paths(None, args.warehouse)
    destination = args.to or settings.backups_dir(warehouse_file)
    print(f"Backing up {warehouse_file} to {destination}", file=sys.stderr)
    result = _unless_refused(
        "Backup not made", lambda: back_up(warehouse_file, destination, args.keep)
    )
    if result is None:
        return 1
    holds = (
        f"{result.loaded_files} exports loaded, the last at {result.last_loaded_at}"
        if result.last_loaded_at
        else "no exports loaded yet"
    )
    print(
        f"Backup made: {result.folder} ({disk_space.size_text(result.bytes_copied)} in "
        f"{result.seconds:.1f} s; {holds}). Restore it with: kpi restore {result.folder}",
        file=sys.stderr,
    )
    for old_backup in result.removed:
        print(f"Removed an older backup (--keep {args.keep}): {old_backup}", file=sys.stderr)
    for unfinished in result.removed_unfinished:
        print(f"Removed what a stopped backup left: {unfinished}", file=sys.stderr)
    print(result.folder)
    return 0


def cmd_compact(args: argparse.Namespace) -> int:
    from dagster_project.backup import compact

    _, warehouse_file = settings.use_paths(None, args.warehouse)
    print(f"Compacting {warehouse_file}", file=sys.stderr)
    result = _unless_refused("Not compacted", lambda: compact(warehouse_file))
    if result is None:
        return 1
    print(
        f"Compacted {warehouse_file}: {disk_space.size_text(result.bytes_before)} → "
        f"{disk_space.size_text(result.bytes_after)} ({result.tables} tables, every row "
        f"count checked; {result.seconds:.1f} s)",
        file=sys.stderr,
    )
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    from dagster_project.status import warehouse_status

    _, warehouse_file = settings.use_paths(None, args.warehouse)
    kpi = _shown_path(Path(sys.executable).parent / "kpi")
    this_warehouse = _option("--warehouse", warehouse_file, settings.DEFAULT_WAREHOUSE)
    status = warehouse_status(warehouse_file, kpi, this_warehouse)
    print("\n".join(status.lines))
    return 1 if status.failing else 0


def cmd_restore(args: argparse.Namespace) -> int:
    from dagster_project.backup import restore

    _, warehouse_file = settings.use_paths(None, args.warehouse)
    print(f"Restoring {warehouse_file} from {args.backup}", file=sys.stderr)
    result = _unless_refused("Restore not made", lambda: restore(args.backup, warehouse_file))
    if result is None:
        return 1
    print(
        f"Restored {warehouse_file} as it was at {result.created_at} "
        f"({disk_space.size_text(result.bytes_restored)} in {result.seconds:.1f} s) and "
        f"published the analysts' snapshot from it ({len(result.snapshot_rows)} marts). The next "
        "`kpi build` loads the exports delivered since the backup and rebuilds the months they "
        "touch.",
        file=sys.stderr,
    )
    return 0


def cmd_ui(args: argparse.Namespace) -> int:
    from dagster_project.build import prepare_instance

    _, warehouse_file = settings.use_paths(args.raw, args.warehouse)
    try:
        history_days = run_history.run_history_days()
    except ValueError as problem:
        print(f"UI not started: {problem}", file=sys.stderr)
        return 2
    instance = prepare_instance(warehouse_file)
    # Runs of builds that were stopped would keep the UI's own runs waiting for their slot.
    with (
        contextlib.suppress(build_guard.BuildInProgress),
        build_guard.exclusive_build(warehouse_file),
    ):
        for note in build_guard.settle_abandoned_runs(instance):
            print(note, file=sys.stderr)
        _print_runs_removed(run_history.prune_run_history(instance, history_days), history_days)
    instance.dispose()  # the UI's own processes read the history from here on
    command = [
        str(Path(sys.executable).parent / "dagster"),
        "dev",
        "-w",
        str(settings.PROJECT_ROOT / "workspace.yaml"),
        "-h",
        "127.0.0.1",
        "-p",
        str(args.port),
    ]

    # Background shells here ignore SIGINT/SIGTERM; give the server the default handlers back
    # so Ctrl-C and `kill` stop it.
    def restore_signals() -> None:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)

    process = subprocess.Popen(
        command, cwd=settings.PROJECT_ROOT, env=os.environ.copy(), preexec_fn=restore_signals
    )
    try:
        return process.wait()
    except KeyboardInterrupt:
        process.terminate()
        return process.wait()


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kpi",
        description="KPI Warehouse: ingest the KPI toolkit's exports and build the marts.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    build = commands.add_parser(
        "build",
        help="ingest raw/ and build every model and test (headless Dagster run)",
        description="Materialise every asset: ingestion of each raw source, then dbt build "
        "(seeds, models, tests). Incremental: only new or changed files are ingested, and "
        "only the months they touch are rebuilt in the month-partitioned models (entries "
        "and staff-days); the other marts are recomputed from those. Exits non-zero naming "
        "the failing asset and the reason.",
    )
    _add_path_options(build)
    build.add_argument(
        "--full-refresh",
        action="store_true",
        help="rebuild every model from scratch instead of only the changed months",
    )
    build.add_argument(
        "--from",
        dest="rebuild_from",
        type=_month_arg,
        metavar="YYYY-MM",
        help="also rebuild the months from this one (a backfill)",
    )
    build.add_argument(
        "--to",
        dest="rebuild_to",
        type=_month_arg,
        metavar="YYYY-MM",
        help="last month of the backfill (default: --from)",
    )
    build.add_argument(
        "--engine",
        choices=ENGINES,
        default="duckdb",
        help="where the dbt models run: duckdb (default), or Apache Spark through dbt-spark "
        "(install extra `spark`; raw.* exported to Parquet beside the warehouse, in spark/)",
    )
    build.set_defaults(handler=cmd_build, exit_without_teardown=True)

    run = commands.add_parser(
        "run",
        help="generate demo data when raw/ is empty, build, and show what to try next",
        description="What `make run` does: generate the demo dataset if the landing zone is "
        "empty, build the warehouse, and print where it is and a query to try.",
    )
    _add_path_options(run)
    run.set_defaults(handler=cmd_run)

    generate = commands.add_parser(
        "generate",
        help="write a realistic demo dataset of the raw contract",
        description="Generate demo exports for the 19 pilot agencies, calibrated to the "
        "published pilot figures, in exactly the raw contract.",
    )
    generate.add_argument("--out", type=Path, default=settings.DEFAULT_RAW_DIR)
    generate.add_argument("--seed", type=int, default=42)
    generate.add_argument("--start", type=date.fromisoformat, default=date(2025, 3, 1))
    generate.add_argument("--end", type=date.fromisoformat, default=date(2025, 12, 31))
    generate.add_argument("--scale", type=float, default=1.0)
    generate.add_argument("--formats", choices=["mixed", "csv", "xlsx"], default="mixed")
    generate.add_argument("--clean", action="store_true", help="no messiness: canonical CSV")
    generate.add_argument(
        "--append-day",
        type=date.fromisoformat,
        default=None,
        help="add one more day of exports to an existing raw folder",
    )
    generate.set_defaults(handler=cmd_generate)

    sql = commands.add_parser(
        "sql",
        help="query the published marts snapshot (read-only); no query opens a prompt",
        description="Run a query on the analysts' snapshot of the marts (marts.duckdb beside "
        "the warehouse) and print a table or CSV. Without a query, an interactive prompt. "
        "With --audit, on the warehouse itself: what was loaded, what was quarantined and why.",
    )
    sql.add_argument("query", nargs="?", help='SQL, e.g. "select * from marts.agency_productivity"')
    sql.add_argument("--csv", action="store_true", help="print CSV instead of a table")
    sql.add_argument("--max-rows", type=int, default=40)
    sql.add_argument(
        "--audit",
        action="store_true",
        help="query the warehouse itself, read-only, for its audit schema (the ingestion "
        "ledger, the quarantined rows with their raw values, the months queued): for the "
        "person who runs it; not while a build writes it",
    )
    _add_path_options(sql, raw=False)
    sql.set_defaults(handler=cmd_sql)

    extract = commands.add_parser(
        "extract",
        help="write the leadership Excel workbooks for a month or quarter",
        description="One workbook per agency (only its own staff) and one province summary, "
        "plus a manifest with checksums. Rerunning a period replaces its files.",
    )
    extract.add_argument("--period", required=True, help="YYYY-MM or YYYY-Qn, e.g. 2025-03")
    extract.add_argument(
        "--out",
        type=Path,
        default=None,
        help=f"output folder (default: ${settings.EXPORTS_ENV} or exports/)",
    )
    _add_path_options(extract, raw=False)
    extract.set_defaults(handler=cmd_extract)

    docs = commands.add_parser(
        "docs",
        help="generate the dbt documentation site (static) and say where it is",
        description="Generate the dbt docs as one static HTML file beside the warehouse.",
    )
    _add_path_options(docs, raw=False)
    docs.set_defaults(handler=cmd_docs)

    backup = commands.add_parser(
        "backup",
        help="copy the warehouse (and its pseudonym key) into a new folder, checksummed",
        description="Copy the warehouse whole, while no build or run writes it, into a new "
        "folder <warehouse>-<date>-<time> under --to, with backup.json listing each file's size "
        "and SHA-256. Keep backups on another disk than the warehouse.",
    )
    backup.add_argument(
        "--to",
        type=Path,
        default=None,
        help="folder to put the backup in (default: $KPI_BACKUP_DIR or backups/ beside the "
        "warehouse)",
    )
    backup.add_argument(
        "--keep",
        type=int,
        default=None,
        metavar="N",
        help="then remove the oldest backups of this warehouse in that folder beyond N "
        "(default: remove none)",
    )
    _add_path_options(backup, raw=False)
    backup.set_defaults(handler=cmd_backup)

    compact = commands.add_parser(
        "compact",
        help="rewrite the warehouse file without the free space DuckDB keeps in it",
        description="Copy every table and view of the warehouse into a new file of the same "
        "storage version, check each table's row count, and put it in place of the warehouse. "
        "DuckDB reuses the space that rebuilt months and replaced rows free, but never gives it "
        "back to the disk: after a full refresh the file holds about twice what it stores. "
        "Refused while a build or any other run of the warehouse is in progress.",
    )
    _add_path_options(compact, raw=False)
    compact.set_defaults(handler=cmd_compact)

    status = commands.add_parser(
        "status",
        help="the last build, runs in progress, what the warehouse holds and rejected, the "
        "snapshot and the latest backup",
        description="Report, reading only, what the person who runs the warehouse checks: the "
        "last build (its failure's reasons), runs in progress, the reporting range built, exports "
        "loaded and files not loaded, rows quarantined by reason, months queued, when the "
        "analysts' snapshot was published, the latest backup, and the free space inside the "
        "warehouse file when it is a tenth of it or more. Exits 1 when the last build "
        "failed or there is no warehouse, for a monitor to alert on.",
    )
    _add_path_options(status, raw=False)
    status.set_defaults(handler=cmd_status)

    restore = commands.add_parser(
        "restore",
        help="replace the warehouse with a backup and republish the analysts' snapshot",
        description="Check every file of a backup made by `kpi backup` against its list, "
        "replace the warehouse with it, and publish the analysts' snapshot from it. The next "
        "`kpi build` loads the exports delivered since the backup.",
    )
    restore.add_argument("backup", type=Path, help="the backup's folder (printed by kpi backup)")
    _add_path_options(restore, raw=False)
    restore.set_defaults(handler=cmd_restore)

    ui = commands.add_parser(
        "ui",
        help="start the Dagster UI on 127.0.0.1",
        description="Start `dagster dev -w workspace.yaml` on 127.0.0.1 for this warehouse.",
    )
    ui.add_argument("--port", type=int, default=3000)
    _add_path_options(ui)
    ui.set_defaults(handler=cmd_ui)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    return int(args.handler(args))


def run() -> None:
    """The `kpi` command. A build ends without Python's teardown: freeing the objects that
    Dagster's and dbt's modules hold took about 0.9 s of every `kpi build`, a twentieth of a
    one-day build, when every file, database and child process of the build is closed."""
    args = make_parser().parse_args()
    code = int(args.handler(args))
    if getattr(args, "exit_without_teardown", False):
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    run()
