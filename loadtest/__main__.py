"""``make load``: the demo world plus load accounts in a database of its own, gunicorn on loopback,
50 locust users for 60 s; prints requests, failures, p50/p95 and writes loadtest/results.json.

Needs PostgreSQL: ``DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres make load`` (the load
database is that URL's database name + ``_load``; it is created and migrated when missing).
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "loadtest" / "results.json"
PORT = int(os.environ.get("LOAD_PORT", "8765"))
USERS = int(os.environ.get("LOAD_USERS", "50"))
SECONDS = int(os.environ.get("LOAD_SECONDS", "60"))
WORKERS = 2 * (os.cpu_count() or 1) + 1


def load_database_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("make load needs PostgreSQL: DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres make load")
    parts = urlsplit(url)
    name = parts.path.lstrip("/") or "postgres"
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [f"{name}_load"]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}_load"')
    return urlunsplit(parts._replace(path=f"/{name}_load"))


def main() -> int:
    env = {
        **os.environ,
        "DATABASE_URL": load_database_url(),
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY", "load-test-only-" + "k" * 40),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DJANGO_SECURE_COOKIES": "0",
        "PYTHONPATH": str(ROOT),
    }
    python = sys.executable
    bin_dir = Path(python).parent
    workdir = tempfile.TemporaryDirectory()
    env["LOAD_SESSIONS"] = str(Path(workdir.name) / "sessions.json")
    for command in (["manage.py", "migrate", "--no-input", "-v0"], ["manage.py", "collectstatic", "--no-input", "-v0"],
                    ["manage.py", "seed_demo"], ["-m", "loadtest.fixtures", env["LOAD_SESSIONS"]]):  # fmt: skip
        subprocess.run([python, *command], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    gunicorn = [str(bin_dir / "gunicorn"), "portal.wsgi", "-w", str(WORKERS), "-b", f"127.0.0.1:{PORT}"]
    server = subprocess.Popen([*gunicorn, "--log-level", "warning"], cwd=ROOT, env=env)
    try:
        wait_until_up(f"http://127.0.0.1:{PORT}/healthz")
        with tempfile.TemporaryDirectory() as tmp:
            prefix = Path(tmp) / "locust"
            started = time.monotonic()
            subprocess.run(
                [str(bin_dir / "locust"), "-f", str(ROOT / "loadtest" / "locustfile.py"), "--headless",
                 "-u", str(USERS), "-r", str(USERS), "-t", f"{SECONDS}s", "--host", f"http://127.0.0.1:{PORT}",
                 "--csv", str(prefix), "--only-summary", "--loglevel", "WARNING"],
                cwd=ROOT, env=env, check=False,
            )  # fmt: skip
            elapsed = time.monotonic() - started
            results = summarize(Path(f"{prefix}_stats.csv"), elapsed)
            results["failures_detail"] = failures(Path(f"{prefix}_failures.csv"))
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        workdir.cleanup()
    results.update(users=USERS, seconds=SECONDS, gunicorn_workers=WORKERS, cpus=os.cpu_count())
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print_table(results)
    return 0 if results["total"]["failures"] == 0 else 1


def wait_until_up(url: str) -> None:
    for _ in range(100):
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback only
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"gunicorn did not answer at {url}")


def summarize(stats: Path, elapsed: float) -> dict:
    rows = list(csv.DictReader(stats.open(encoding="utf-8")))
    pages = []
    total = None
    for row in rows:
        entry = {
            "name": row["Name"],
            "requests": int(row["Request Count"]),
            "failures": int(row["Failure Count"]),
            "p50_ms": float(row["50%"] or 0),
            "p95_ms": float(row["95%"] or 0),
            "rps": round(float(row["Requests/s"] or 0), 1),
        }
        if row["Name"] == "Aggregated":
            total = entry
        else:
            pages.append(entry)
    return {"total": total, "pages": sorted(pages, key=lambda e: -e["requests"]), "elapsed_seconds": round(elapsed, 1)}


def failures(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [
        {"name": row["Name"], "error": row["Error"], "occurrences": int(row["Occurrences"])}
        for row in csv.DictReader(path.open(encoding="utf-8"))
    ]


def print_table(results: dict) -> None:
    print(f"\n{'page':<36}{'requests':>10}{'failures':>10}{'p50 ms':>10}{'p95 ms':>10}{'req/s':>8}")
    for entry in [*results["pages"], results["total"]]:
        print(f"{entry['name']:<36}{entry['requests']:>10}{entry['failures']:>10}"
              f"{entry['p50_ms']:>10.0f}{entry['p95_ms']:>10.0f}{entry['rps']:>8}")  # fmt: skip
    for failure in results["failures_detail"]:
        print(f"FAILURE {failure['name']}: {failure['error']} × {failure['occurrences']}")


if __name__ == "__main__":
    sys.exit(main())
