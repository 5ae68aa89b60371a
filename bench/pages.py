"""The main pages one by one (issue 17, item 3): CPU milliseconds in the Django process per request,
wall milliseconds, and round trips to PostgreSQL counted at the connection.

Round trips are read from libpq's protocol trace of the request's connection (``pgconn.trace``):
every exchange the server ends with ``ReadyForQuery`` is one — the health check's ``SELECT 1``,
the session, ``BEGIN``/``COMMIT`` of a transaction included, which the ORM's query log does not see.
Each request starts as a server's does: ``close_old_connections()`` first (``request_started``),
which is what makes Django check a kept connection's health before its first query.
``CONN_HEALTH_CHECKS`` is then switched off for a second traced pass, so the cost of the check is
shown rather than assumed.
"""

from __future__ import annotations

import os
import re
import statistics
import tempfile
import time

from django.db import close_old_connections, connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from . import dataset as ds


def _subjects() -> list[tuple[str, str, object]]:
    """(name, path, user): the pages a creator and a main account use most, on the bench's parties."""
    from portal.models import User

    from .measure import granted_livestream

    main = User.objects.get(pk=ds.MAIN_USER_BASE + ds.O_10K)
    creator = User.objects.get(pk=ds.C_10K)
    livestream = granted_livestream()
    c, ls = livestream.creator_id, livestream.pk
    return [
        ("healthz (no session)", "/healthz", None),
        ("creator: own overview", f"/creators/{ds.C_10K}/", creator),
        ("creator: grant list", "/grants/", creator),
        ("creator: livestream requests", "/requests/", creator),
        ("creator: inbox", "/inbox/", creator),
        ("main account: organization home", "/org/", main),
        ("main account: livestreams it sold in", "/livestreams/", main),
        ("main account: a creator's overview", f"/creators/{c}/", main),
        ("main account: a creator's livestream list", f"/creators/{c}/livestreams/", main),
        ("main account: livestream detail", f"/livestreams/{ls}/", main),
        ("main account: traffic module", f"/livestreams/{ls}/traffic/", main),
        ("main account: inbox", "/inbox/", main),
    ]


def _table(sql: str) -> str:
    """The first table a logged query reads or writes: a short name for the report."""
    found = re.search(r'(?:FROM|INTO|UPDATE)\s+"?(\w+)"?', sql)
    return found.group(1) if found else sql.split()[0]


def _round_trips(client: Client, path: str) -> tuple[int, int, list[str]]:
    """(status, round trips at the connection, the tables of the queries the ORM logged) of one request."""
    close_old_connections()
    connection.ensure_connection()
    pgconn = connection.connection.pgconn
    with tempfile.NamedTemporaryFile("w+", suffix=".trace") as trace:
        pgconn.trace(trace.fileno())
        try:
            close_old_connections()  # as request_started: the health check comes with the first query
            with CaptureQueriesContext(connection) as logged:
                response = client.get(path)
        finally:
            pgconn.untrace()
        trace.seek(0)
        lines = trace.read().splitlines()
    trips = sum(1 for line in lines if "\tB\t" in f"\t{line}" and "ReadyForQuery" in line)
    return response.status_code, trips, [_table(query["sql"]) for query in logged.captured_queries]


def measure_pages(quick: bool) -> dict:
    if connection.vendor != "postgresql":
        return {"error": "round trips are counted on PostgreSQL only"}
    rounds = 8 if quick else 25
    subjects = _subjects()
    clients = {}
    for _name, _path, user in subjects:
        if user is not None and user.pk not in clients:
            clients[user.pk] = Client()
            clients[user.pk].force_login(user)
    anonymous = Client()

    def client_for(user):
        return anonymous if user is None else clients[user.pk]

    out = {}
    for _name, path, user in subjects:  # warm every page (caches, compiled queries)
        client_for(user).get(path)
        client_for(user).get(path)
    timings = {name: {"cpu": [], "wall": []} for name, _path, _user in subjects}
    for _ in range(rounds):
        for name, path, user in subjects:
            client = client_for(user)
            close_old_connections()
            cpu, wall = time.process_time(), time.perf_counter()
            client.get(path)
            timings[name]["cpu"].append(time.process_time() - cpu)
            timings[name]["wall"].append(time.perf_counter() - wall)
    # Round trips in the steady state (after the rounds: hot queries prepared where that is on).
    health = connection.settings_dict.get("CONN_HEALTH_CHECKS")
    for name, path, user in subjects:
        status, trips, logged = _round_trips(client_for(user), path)
        out[name] = {
            "path": path, "status": status, "round_trips": trips,
            "orm_queries": len(logged), "orm_tables": logged,
        }  # fmt: skip
    connection.ensure_connection()
    connection.health_check_enabled = False  # what CONN_HEALTH_CHECKS=False gives a new connection
    try:
        for name, path, user in subjects:
            out[name]["round_trips_without_health_check"] = _round_trips(client_for(user), path)[1]
    finally:
        connection.health_check_enabled = bool(health)
    # The health check itself: one SELECT 1 on the kept connection, as Django runs it.
    checks = []
    for _ in range(200):
        started = time.perf_counter()
        connection.is_usable()
        checks.append(time.perf_counter() - started)
    for name, entry in out.items():
        cpu, wall = timings[name]["cpu"], timings[name]["wall"]
        entry["cpu_ms_p50"] = round(statistics.median(cpu) * 1000, 2)
        entry["wall_ms_p50"] = round(statistics.median(wall) * 1000, 2)
    return {
        "pages": out,
        "rounds": rounds,
        "conn_health_checks": bool(health),
        "server_side_binding": bool(connection.settings_dict.get("OPTIONS", {}).get("server_side_binding")),
        "health_check_ms_p50": round(statistics.median(checks) * 1000, 3),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def report(pages: dict, p) -> None:
    p("\n== pages: CPU ms in the Django process, wall ms, round trips at the connection ==")
    if "error" in pages:
        p(f"  {pages['error']}")
        return
    p(
        f"  {pages['rounds']} rounds, p50; server-side binding {'on' if pages.get('server_side_binding') else 'off'}; "
        f"round trips with CONN_HEALTH_CHECKS "
        f"(and without); the ORM's own query count; one health check {pages['health_check_ms_p50']} ms"
    )
    for name, e in pages["pages"].items():
        p(
            f"  {name:<44} {e['cpu_ms_p50']:>6.2f} cpu ms {e['wall_ms_p50']:>6.2f} ms  "
            f"{e['round_trips']:>2} trips ({e['round_trips_without_health_check']} without)  "
            f"{e['orm_queries']:>2} ORM queries  [{e['status']}]"
        )
        p(f"  {'':<44} {', '.join(e['orm_tables'])}")
