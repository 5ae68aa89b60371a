"""``python -m bench`` (``make bench``): build or reuse the data set, measure, print, write results.

PostgreSQL only (``DATABASE_URL``). The bench works in its own database: the URL's database name
with ``_bench`` appended (``BENCH_DATABASE_NAME`` overrides it), created when missing and migrated
with ``migrate``; the main and the test databases are never touched.

Options: ``--rebuild`` (build the data set anew), ``--only access,lists,overview,throughput,import,reminders`` (a
subset of the figures; the others are kept from the previous ``bench/results.json``),
``--quick`` (fewer repetitions, for trying things out), ``--duration S`` (seconds per load run).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results.json"
CHART = Path(__file__).resolve().parent / "scale.svg"
SECTIONS = ("access", "lists", "overview", "pages", "throughput", "import", "reminders")


def fail(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr)
    raise SystemExit(2)


def bench_database_url(url: str) -> tuple[str, str]:
    """The bench database's URL (same server, its own database) and that database's name."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql", "pgsql"):
        fail(
            "PostgreSQL required: set DATABASE_URL=postgres://USER@HOST:PORT/NAME "
            f"(got {parts.scheme or 'nothing'!r}; SQLite cannot hold the benchmark's data set)."
        )
    main_name = parts.path.lstrip("/") or "postgres"
    name = os.environ.get("BENCH_DATABASE_NAME") or f"{main_name}_bench"
    if name == main_name:
        fail("the bench database must not be the main database")
    return urlunsplit(parts._replace(path=f"/{name}")), name


def ensure_database(url: str, name: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(url, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone() is None:
            print(f"bench: creating database {name}", file=sys.stderr)
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--rebuild", action="store_true", help="build the data set anew")
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated: " + ",".join(SECTIONS))
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (not for the record)")
    parser.add_argument("--duration", type=float, default=None, help="seconds per throughput run")
    parser.add_argument("--build-only", action="store_true", help="build or reuse the data set, measure nothing")
    args = parser.parse_args(argv)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(only) - set(SECTIONS)
    if unknown:
        fail(f"unknown section(s): {', '.join(sorted(unknown))}")

    url = os.environ.get("DATABASE_URL", "")
    if not url:
        fail(
            "DATABASE_URL is not set. The benchmark needs PostgreSQL, e.g. "
            "DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres make bench"
        )
    bench_url, name = bench_database_url(url)
    started = time.monotonic()
    ensure_database(url, name)

    workdir = tempfile.TemporaryDirectory(prefix="bench-")
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "BENCH_DATABASE_URL": bench_url,
            "DJANGO_DEBUG": "0",
            "DJANGO_SECURE_SSL_REDIRECT": "0",
            "DJANGO_LOG_LEVEL": "ERROR",
            "BENCH_STATIC_ROOT": str(Path(workdir.name) / "static"),
            "BENCH_PLAIN_DIR": str(Path(workdir.name) / "plain"),
        }
    )
    if not os.environ.get("DJANGO_SECRET_KEY"):
        os.environ["DJANGO_SECRET_KEY"] = secrets.token_urlsafe(50)
    sys.path.insert(0, str(ROOT))

    import django

    django.setup()
    from django.core.management import call_command

    from . import dataset, measure

    print(f"bench: database {name} (migrate)", file=sys.stderr)
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    call_command("migrate", verbosity=0, interactive=False)
    data = dataset.ensure(rebuild=args.rebuild)
    if pending and data.get("reused"):
        # A migration may have rewritten rows (a new column filled in): their pages lose the
        # visibility map that index-only scans rely on, and the planner its statistics.
        print(f"bench: {len(pending)} migration(s) applied to the reused data set: VACUUM ANALYZE", file=sys.stderr)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    if args.build_only:
        print(f"bench: data set ready in {time.monotonic() - started:.0f}s", file=sys.stderr)
        return 0
    call_command("collectstatic", verbosity=0, interactive=False)

    previous = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results = measure.run(only=only, quick=args.quick, duration=args.duration, previous=previous, workdir=workdir.name)
    results["data_set"] = {k: v for k, v in data.items() if k != "latest_by_status"}
    results["data_set"]["latest_by_status"] = data.get("latest_by_status")
    results["machine"] = measure.machine()
    results["total_seconds"] = round(time.monotonic() - started, 1)
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str) + "\n")

    from . import chart

    chart.write(results, CHART)
    measure.report(results)
    print(
        f"\nbench: done in {results['total_seconds']:.0f}s; "
        f"wrote {RESULTS.relative_to(ROOT)} and {CHART.relative_to(ROOT)}"
    )
    workdir.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
