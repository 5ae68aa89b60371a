"""The figures: access checks, list pages at four scales, throughput under gunicorn, import vs COPY.

Every figure is the median of repeated runs taken in this one process run, and the runs of the
things compared with each other are interleaved (round-robin), so a noisy neighbour slows both
sides of a ratio alike. Nothing here asserts a timing: the targets are printed as PASS/MISS.
"""

from __future__ import annotations

import contextlib
import datetime
import http.client
import io
import json
import os
import platform
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from . import dataset as ds
from . import pages, reminders

ROOT = Path(__file__).resolve().parent.parent

TARGETS = {
    # Issue 17: "access ≤ 1.5" (2.5 until 2026-12-06; every run that day was ≤ 1.38).
    "access_check_ratio": ("<=", 1.5),
    "delegate_check_ratio": ("<=", 1.5),
    "list_scale_ratio": ("<=", 1.3),
    "overview_range_ratio": ("<=", 1.3),
    "gated_vs_plain_ratio": (">=", 0.6),
    "logged_vs_unlogged_ratio": (">=", 0.9),
    "import_vs_copy_ratio": (">=", 0.3),
    "worker_rss_mb": ("<=", 150),
    "reminders_nothing_due_s": ("<=", 1.0),
}

SCALES = ("1k", "10k", "100k", "1M")
SCALE_VALUES = {"1k": 1_000, "10k": 10_000, "100k": 100_000, "1M": 1_000_000}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def median(values):
    return statistics.median(values) if values else None


def percentile(values, fraction):
    ordered = sorted(values)
    if not ordered:
        return None
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def passes(name: str, value) -> bool | None:
    if value is None:
        return None
    op, limit = TARGETS[name]
    return value <= limit if op == "<=" else value >= limit


# --- machine -----------------------------------------------------------------------------------


def machine() -> dict:
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    total = re.search(r"MemTotal:\s+(\d+)", meminfo)
    cpu = ""
    if Path("/proc/cpuinfo").exists():
        found = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
        cpu = found.group(1).strip() if found else ""
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg = cursor.fetchone()[0]
    import django

    return {
        "nproc": os.cpu_count(),
        "memory_gib": round(int(total.group(1)) / 1024 / 1024, 1) if total else None,
        "cpu": cpu,
        "postgresql": pg.split()[0],
        "python": platform.python_version(),
        "django": django.get_version(),
        "os": platform.platform(),
    }


# --- access checks ---------------------------------------------------------------------------------


def _access_subjects():
    from grants.models import Grant, LivestreamAccessRequest
    from livestreams.models import Livestream
    from portal.models import User

    org = ds.O_10K
    grant = (
        Grant.objects.active_on().filter(organization_id=org, creator__livestreams__isnull=False).order_by("pk").first()
    )
    approved = LivestreamAccessRequest.objects.approved().filter(organization_id=org).values("livestream_id")
    # As the livestream views load it (with its creator), so "is it the user's own?" needs no query.
    livestream = (
        Livestream.objects.select_related("creator")
        .filter(creator_id=grant.creator_id)
        .exclude(pk__in=approved)
        .order_by("pk")
        .first()
    )
    user = User.objects.get(pk=ds.MAIN_USER_BASE + org)
    return grant, livestream, user


def _timed_calls(functions: dict, repeats: int, calls: int) -> dict[str, float]:
    """Median seconds per call of each function; the functions take turns in every repeat."""
    samples = {name: [] for name in functions}
    for fn in functions.values():  # warm up (query compilation caches, connection)
        for _ in range(20):
            fn()
    for _ in range(repeats):
        for name, fn in functions.items():
            started = time.perf_counter()
            for _ in range(calls):
                fn()
            samples[name].append((time.perf_counter() - started) / calls)
    return {name: median(values) for name, values in samples.items()}


def _plan_nodes(plan: dict) -> list[dict]:
    nodes = [plan]
    for child in plan.get("Plans", []):
        nodes.extend(_plan_nodes(child))
    return nodes


def explain(sql: str) -> dict:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) " + sql)
        plan = cursor.fetchone()[0]
        plan = plan if isinstance(plan, list) else json.loads(plan)
        cursor.execute("EXPLAIN " + sql)
        text = "\n".join(row[0] for row in cursor.fetchall())
    nodes = _plan_nodes(plan[0]["Plan"])
    scans = [n for n in nodes if "Scan" in n["Node Type"]]
    return {
        "text": text,
        "scans": sorted({f"{n['Node Type']} on {n.get('Relation Name', '?')}" for n in scans}),
        "seq_scans": sorted({n.get("Relation Name", "?") for n in scans if n["Node Type"] == "Seq Scan"}),
    }


def measure_access(quick: bool) -> dict:
    from grants import access
    from grants.models import Grant

    grant, livestream, user = _access_subjects()
    creator = grant.creator
    cached_user = type(user).objects.select_related("membership").get(pk=user.pk)
    other_pk = Grant.objects.filter(organization_id=ds.O_1K).order_by("pk").values_list("pk", flat=True).first()

    def fresh(u):
        u._state.fields_cache.clear()  # as on a new request: no party loaded yet
        return u

    assert access.can_view_creator_data(fresh(user), creator)
    assert access.can_view_livestream_modules(fresh(user), livestream)
    bare_livestream = type(livestream).objects.get(pk=livestream.pk)  # its creator not loaded

    def fresh_livestream():
        bare_livestream._state.fields_cache.clear()
        return bare_livestream

    functions = {
        "bare_exists": lambda: Grant.objects.filter(pk=other_pk).exists(),
        "can_view_creator_data": lambda: access.can_view_creator_data(fresh(user), creator),
        "can_view_creator_data_party_loaded": lambda: access.can_view_creator_data(cached_user, creator),
        "can_view_livestream_modules": lambda: access.can_view_livestream_modules(fresh(user), livestream),
        "can_view_livestream_modules_creator_not_loaded": lambda: access.can_view_livestream_modules(
            fresh(user), fresh_livestream()
        ),
    }
    # SPEC §12: the same checks for a sub-account holding a delegation of the grant (one query too).
    ds.ensure_delegations()
    delegate = type(user).objects.get(pk=grant.delegations.filter(ended_at__isnull=True).values("sub_account")[:1])
    cached_delegate = type(user).objects.select_related("membership").get(pk=delegate.pk)
    assert access.can_view_creator_data(fresh(delegate), creator)
    assert access.can_view_livestream_modules(fresh(delegate), livestream)
    functions.update(
        {
            "delegate_can_view_creator_data": lambda: access.can_view_creator_data(fresh(delegate), creator),
            "delegate_can_view_creator_data_party_loaded": lambda: access.can_view_creator_data(
                cached_delegate, creator
            ),
            "delegate_can_view_livestream_modules": lambda: access.can_view_livestream_modules(
                fresh(delegate), livestream
            ),
        }
    )
    per_call = _timed_calls(functions, repeats=5 if quick else 7, calls=100 if quick else 200)
    bare = per_call["bare_exists"]
    ratios = {name: per_call[name] / bare for name in functions if name != "bare_exists"}

    plans = {}
    checks = [name for name in functions if name != "bare_exists"]
    for name in checks:
        assert functions[name](), name
        with CaptureQueriesContext(connection) as captured:
            functions[name]()
        plans[name] = [explain(q["sql"]) for q in captured.captured_queries]
        plans[name + "_queries"] = len(captured.captured_queries)
    seq = sorted({rel for name in checks for p in plans[name] for rel in p["seq_scans"]})
    return {
        "per_call_us": {name: round(value * 1e6, 1) for name, value in per_call.items()},
        "ratios": {name: round(value, 2) for name, value in ratios.items()},
        "access_check_ratio": round(max(ratios["can_view_creator_data"], ratios["can_view_livestream_modules"]), 2),
        "delegate_check_ratio": round(
            max(ratios["delegate_can_view_creator_data"], ratios["delegate_can_view_livestream_modules"]), 2
        ),
        "explain": plans,
        "index_scans_only": not seq,
        "seq_scans": seq,
        "subjects": {
            "user": user.username,
            "delegate": delegate.username,
            "creator": creator.pk,
            "livestream": livestream.pk,
            "grant": grant.pk,
            "delegations": grant.delegations.model.objects.count(),
        },  # fmt: skip
    }


# --- list pages ------------------------------------------------------------------------------------


def _party_user(kind: str, party: int):
    from portal.models import User

    return User.objects.get(pk=party if kind == "creator" else ds.MAIN_USER_BASE + party)


def list_pages() -> list[dict]:
    """Each page, the user kind that sees it, and the party at each scale (with its row count)."""
    C_BIG, C_10K, C_1K, O_BIG, O_10K, O_1K = ds.C_BIG, ds.C_10K, ds.C_1K, ds.O_BIG, ds.O_10K, ds.O_1K
    return [
        {
            "page": "creator_grants", "path": "/grants/", "kind": "creator", "rows_are": "grants the creator gave",
            "points": {"1k": (C_1K, 1_000), "10k": (C_10K, 10_000), "100k": (C_BIG, 100_000), "1M": (C_BIG, 100_000)},
        },
        {
            "page": "org_home", "path": "/org/", "kind": "org", "rows_are": "grants the organization holds",
            "points": {"1k": (O_1K, 1_000), "10k": (O_10K, 10_000), "100k": (O_BIG, 100_000), "1M": (O_BIG, 100_000)},
        },
        {
            # The 全部 tab: a full page of 20 rows at every scale (the pending tab's length depends on
            # how many requests are younger than their 7-day expiry on the day the bench runs).
            "page": "creator_requests", "path": "/requests/", "query": {"status": "all"}, "kind": "creator",
            "rows_are": "livestream requests to the creator",
            "points": {"1k": (C_1K, 1_000), "10k": (C_10K, 10_000), "100k": (C_BIG, 30_000), "1M": (C_BIG, 30_000)},
        },
        {
            "page": "org_livestreams", "path": "/livestreams/", "kind": "org",
            "rows_are": "livestreams the organization cooperated in",
            "points": {"1k": (O_1K, 1_000), "10k": (O_10K, 10_000), "100k": (O_BIG, 20_000), "1M": (O_BIG, 20_000)},
        },
        {
            "page": "creator_overview", "path": "/creators/{party}/", "kind": "creator",
            "rows_are": "the creator's livestreams",
            "points": {"1k": (C_1K, 1_000), "10k": (C_BIG, 10_000), "100k": (C_BIG, 10_000), "1M": (C_BIG, 10_000)},
        },
    ]  # fmt: skip


def _is_placeholder(html: str) -> bool:
    # grants/placeholder.html: the creator pages before the creator-data issue lands.
    return '<div class="card empty"><strong>' in html and "<table" not in html


def measure_lists(quick: bool) -> dict:
    rounds = 8 if quick else 15
    results = {}
    clients = {}
    pages = list_pages()
    for spec in pages:
        for scale, (party, rows) in spec["points"].items():
            key = (spec["page"], scale)
            if (spec["kind"], party) not in clients:
                client = Client()
                client.force_login(_party_user(spec["kind"], party))
                clients[spec["kind"], party] = client
            path = spec["path"].format(party=party)
            results[key] = {"party": f"{spec['kind']} {party}", "rows": rows, "path": path, "samples": []}
    # Status and query count per point (and the pages that do not answer yet).
    status = {}
    for spec in pages:
        for scale, (party, _rows) in spec["points"].items():
            entry = results[spec["page"], scale]
            client = clients[spec["kind"], party]
            response = client.get(entry["path"], spec.get("query", {}))
            entry["status"] = response.status_code
            with CaptureQueriesContext(connection) as captured:
                client.get(entry["path"], spec.get("query", {}))
            entry["queries"] = len(captured.captured_queries)
            entry["bytes"] = len(response.content)
            html = response.content.decode(errors="replace")
            entry["placeholder"] = response.status_code == 200 and _is_placeholder(html)
            status.setdefault(spec["page"], set()).add(response.status_code)
    live = [spec for spec in pages if status[spec["page"]] == {200}]
    log(f"  list pages: {rounds} rounds over {sum(len(s['points']) for s in live)} points …")
    for _ in range(rounds):
        for spec in live:
            for scale, (party, _rows) in spec["points"].items():
                entry = results[spec["page"], scale]
                client = clients[spec["kind"], party]
                started = time.perf_counter()
                client.get(entry["path"], spec.get("query", {}))
                entry["samples"].append(time.perf_counter() - started)
    # Deep pages: the largest list's last pages (OFFSET grows with the page number).
    deep = {}
    for spec in live:
        party, _rows = spec["points"]["1M"]
        client = clients[spec["kind"], party]
        path = spec["path"].format(party=party)
        first, far = [], []
        # As many rounds as the pages above, page 1 and page 400 taking turns at going first.
        for round_number in range(rounds):
            pair = ((first, 1), (far, 400))
            for bucket, page in pair if round_number % 2 == 0 else pair[::-1]:
                started = time.perf_counter()
                response = client.get(path, {**spec.get("query", {}), "page": page})
                bucket.append(time.perf_counter() - started)
        deep[spec["page"]] = {
            "page_1_ms": round(median(first) * 1000, 1),
            "page_400_ms": round(median(far) * 1000, 1),
            "status": response.status_code,
            "ratio": round(median(far) / median(first), 2),
        }

    out = {}
    for spec in pages:
        page = spec["page"]
        points = {}
        for scale in SCALES:
            entry = results[page, scale]
            samples = entry.pop("samples")
            if samples:
                entry["p50_ms"] = round(median(samples) * 1000, 2)
                entry["p95_ms"] = round(percentile(samples, 0.95) * 1000, 2)
            points[scale] = entry
        p50s = [p["p50_ms"] for p in points.values() if "p50_ms" in p]
        queries = sorted({p["queries"] for p in points.values()})
        out[page] = {
            "path": spec["path"] + (f"?{urlencode(spec['query'])}" if spec.get("query") else ""),
            "rows_are": spec["rows_are"],
            "points": points,
            "state": (
                "measured"
                if p50s and not any(p["placeholder"] for p in points.values())
                else "placeholder (pending)"
                if p50s
                else f"pending (HTTP {', '.join(map(str, sorted(status[page])))})"
            ),
            "queries": queries,
            "fixed_query_count": len(queries) == 1,
            "list_scale_ratio": round(max(p50s) / min(p50s), 2) if p50s else None,
            "deep_pages": deep.get(page),
        }
    return out


# --- the creator overview at every range ---------------------------------------------------------------


def overview_ranges() -> dict[str, dict[str, str]]:
    """The overview's three presets and its longest custom range (366 days to today)."""
    from django.utils import timezone

    today = timezone.localdate()
    return {
        "7d": {"range": "7"},
        "30d": {"range": "30"},
        "90d": {"range": "90"},
        "366d": {"start": (today - datetime.timedelta(days=365)).isoformat(), "end": today.isoformat()},
    }


@contextlib.contextmanager
def plain_top_lists():
    """The overview with its top lists read from the products, as before the sales roll-ups."""
    from livestreams import speedups
    from livestreams.models import ProductSale

    saved = speedups.creator_top_products, speedups.creator_top_shops
    speedups.creator_top_products = ProductSale.objects.top_products
    speedups.creator_top_shops = ProductSale.objects.top_organizations
    try:
        yield
    finally:
        speedups.creator_top_products, speedups.creator_top_shops = saved


def _sales_rollup_sizes() -> dict:
    sizes = {}
    with connection.cursor() as cursor:
        for model in (*ds.SALES_ROLLUPS, *_sources()):
            table = model._meta.db_table
            cursor.execute(
                f"SELECT count(*), pg_total_relation_size(%s), pg_relation_size(%s) FROM {table}", [table] * 2
            )
            rows, total, heap = cursor.fetchone()
            sizes[table] = {"rows": rows, "total_mb": round(total / 2**20, 1), "heap_mb": round(heap / 2**20, 1)}
    return sizes


def _sources():
    from livestreams.models import CreatorDay, ProductSale

    return ProductSale, CreatorDay


def _top_list_plans(creator_id: int, ranges: dict) -> dict:
    """Which plan each top list took for the creator at each range, and its ``EXPLAIN ANALYZE``."""
    from django.utils import timezone

    from livestreams import speedups
    from livestreams.ranges import parse_range
    from portal.models import Creator

    creator = Creator.objects.get(pk=creator_id)
    plans = {}
    for name, query in ranges.items():
        period, _form = parse_range(query, timezone.localdate())
        for label, top in (("products", speedups.TOP_PRODUCTS), ("shops", speedups.TOP_SHOPS)):
            _rows, pruned = speedups.top_list(top, creator, period.start, period.end)
            with CaptureQueriesContext(connection) as captured:
                speedups.top_list(top, creator, period.start, period.end)
            (query_sql,) = [q["sql"] for q in captured.captured_queries]
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + query_sql)
                text = "\n".join(row[0] for row in cursor.fetchall())
            plans[f"{name}/{label}"] = {"plan": "pruned" if pruned else "direct", "explain": text}
    return plans


def measure_overview(quick: bool) -> dict:
    """The creator overview of the big creator (10,000 livestreams) against the small one (100, all
    in the last year), at every range, in-process like the list pages; each point also with the top
    lists read from the products as before the roll-ups (``plain_top_lists()``), interleaved, so
    before and after come from the same run. CPU ms: this process's CPU time per request (Django's
    side; PostgreSQL's own work is not in it)."""
    from livestreams.models import Livestream

    rounds = 8 if quick else 15
    ranges = overview_ranges()
    parties = {"big": ds.C_BIG, "small": ds.C_SMALL}
    clients = {}
    for side, creator in parties.items():
        client = Client()
        client.force_login(_party_user("creator", creator))
        clients[side] = client
    variants = {"roll-up": contextlib.nullcontext, "plain": plain_top_lists}
    samples = {(v, r, side): [] for v in variants for r in ranges for side in parties}
    cpu = {(v, r, side): [] for v in variants for r in ranges for side in parties}
    points = {}
    for variant, context in variants.items():
        with context():
            for name, query in ranges.items():
                for side, creator in parties.items():
                    path = f"/creators/{creator}/"
                    response = clients[side].get(path, query)
                    with CaptureQueriesContext(connection) as captured:
                        clients[side].get(path, query)
                    points[variant, name, side] = {
                        "status": response.status_code,
                        "queries": len(captured.captured_queries),
                        "bytes": len(response.content),
                    }
    log(f"  overview: {rounds} rounds over {len(samples)} points …")
    for _ in range(rounds):
        for name, query in ranges.items():
            for variant, context in variants.items():
                with context():
                    for side, creator in parties.items():
                        started, started_cpu = time.perf_counter(), time.process_time()
                        clients[side].get(f"/creators/{creator}/", query)
                        samples[variant, name, side].append(time.perf_counter() - started)
                        cpu[variant, name, side].append(time.process_time() - started_cpu)
    out = {}
    for name in ranges:
        entry = {"query": ranges[name]}
        for variant in variants:
            sides = {}
            for side in parties:
                values = samples[variant, name, side]
                sides[side] = {
                    **points[variant, name, side],
                    "p50_ms": round(median(values) * 1000, 2),
                    "p95_ms": round(percentile(values, 0.95) * 1000, 2),
                    "cpu_ms": round(median(cpu[variant, name, side]) * 1000, 2),
                }
            ratio = round(sides["big"]["p50_ms"] / sides["small"]["p50_ms"], 2)
            entry[variant] = {**sides, "ratio": ratio}
        entry["ratio"] = entry["roll-up"]["ratio"]
        out[name] = entry
    counts = {side: Livestream.objects.filter(creator_id=creator).count() for side, creator in parties.items()}
    return {
        "parties": {side: {"creator": creator, "livestreams": counts[side]} for side, creator in parties.items()},
        "ranges": out,
        "plans": {"big": _top_list_plans(ds.C_BIG, ranges), "small": _top_list_plans(ds.C_SMALL, ranges)},
        "sizes": _sales_rollup_sizes(),
    }


# --- throughput ---------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(port: int, path: str, cookie: str, timeout: float = 10.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _children(pid: int) -> list[int]:
    kids = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        found = re.search(r"^PPid:\s+(\d+)", text, re.M)
        if found and int(found.group(1)) == pid:
            kids.append(int(status.parent.name))
    return kids


def _rss_mb(pid: int) -> float | None:
    try:
        found = re.search(r"^VmRSS:\s+(\d+)\s+kB", Path(f"/proc/{pid}/status").read_text(), re.M)
    except OSError:
        return None
    return round(int(found.group(1)) / 1024, 1) if found else None


def _wrk(port: int, path: str, cookie: str, duration: float, connections: int) -> dict:
    command = [
        "wrk", "-t2", f"-c{connections}", f"-d{max(1, round(duration))}s", "--timeout", "10s",
        "-H", f"Cookie: {cookie}", f"http://127.0.0.1:{port}{path}",
    ]  # fmt: skip
    output = subprocess.run(command, capture_output=True, text=True, timeout=duration + 30, check=False).stdout  # noqa: S603
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors:.*", output)
    return {
        "rps": float(rps.group(1)) if rps else 0.0,
        "non_2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": errors.group(0) if errors else "",
    }


def _python_load(
    port: int, path: str, cookie: str, duration: float, connections: int, max_requests: int = 50_000
) -> dict:
    """A bounded load generator: ``connections`` threads, stops after ``duration`` s or ``max_requests``."""
    deadline = time.monotonic() + duration
    lock = threading.Lock()
    counts = {"ok": 0, "bad": 0}

    def worker():
        while time.monotonic() < deadline:
            with lock:
                if counts["ok"] + counts["bad"] >= max_requests:
                    return
            try:
                status, _body = _get(port, path, cookie)
            except OSError:
                status = 0
            with lock:
                counts["ok" if status == 200 else "bad"] += 1

    started = time.monotonic()
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=duration + 15)
    elapsed = time.monotonic() - started
    return {"rps": round(counts["ok"] / elapsed, 1), "non_2xx": counts["bad"], "socket_errors": ""}


def ensure_wrk() -> bool:
    """wrk if it is there; else, as root with apt-get, install Debian's package (bounded); else False.

    ``BENCH_NO_APT=1`` skips the install; the harness then uses its Python load generator.
    """
    if shutil.which("wrk"):
        return True
    if os.environ.get("BENCH_NO_APT") or not shutil.which("apt-get") or os.geteuid() != 0:
        return False
    log("  wrk not found: apt-get install wrk …")
    for command in (
        ["apt-get", "install", "-y", "-qq", "wrk"],
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "wrk"],
    ):
        try:
            subprocess.run(
                command,
                capture_output=True,
                timeout=180,
                check=False,
                env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            )  # noqa: S603
        except (OSError, subprocess.TimeoutExpired):
            return False
        if shutil.which("wrk"):
            return True
    return False


def granted_livestream():
    """The first livestream of the first creator whose grant to the 10k organization is active."""
    from grants.models import Grant
    from livestreams.models import Livestream

    grant = (
        Grant.objects.active_on()
        .filter(organization_id=ds.O_10K, creator__livestreams__isnull=False)
        .order_by("pk")
        .first()
    )
    return Livestream.objects.filter(creator_id=grant.creator_id).order_by("pk").first()


def _gated_subject():
    """A livestream's traffic module, as the main account of an organization with an active grant."""
    return _party_user("org", ds.O_10K), f"/livestreams/{granted_livestream().pk}/traffic/"


def _logged_vs_unlogged_in_process(client, gated: str, pairs: int) -> dict:
    """The gated page with and without the data-access log's write, timed in this process (one
    request at a time, ``pairs`` interleaved pairs, medians): the log's cost per request without
    gunicorn and the load generator, steadier than the throughput runs on a shared machine."""
    unlogged = "/bench/unlogged" + gated
    for _ in range(20):
        client.get(gated)
        client.get(unlogged)
    times = {"logged": [], "unlogged": []}
    for i in range(pairs):
        order = (("logged", gated), ("unlogged", unlogged))
        for name, path in order if i % 2 else order[::-1]:
            started = time.perf_counter()
            client.get(path)
            times[name].append(time.perf_counter() - started)
    logged, unlogged_ms = median(times["logged"]) * 1000, median(times["unlogged"]) * 1000
    return {
        "pairs": pairs,
        "logged_ms": round(logged, 2),
        "unlogged_ms": round(unlogged_ms, 2),
        "ratio": round(unlogged_ms / logged, 3) if logged else None,
    }


ROUNDS = 7  # throughput rounds (each page once per round, 3 s)


def measure_throughput(quick: bool, duration: float | None, workdir: str) -> dict:
    from django.conf import settings

    user, gated = _gated_subject()
    livestream_id = int(gated.strip("/").split("/")[1])
    client = Client()
    client.force_login(user)
    response = client.get(gated)
    if response.status_code != 200:
        return {"error": f"gated page {gated} answered {response.status_code}"}
    plain_dir = Path(settings.TEMPLATES_PLAIN_DIR)
    plain_dir.mkdir(parents=True, exist_ok=True)
    (plain_dir / "plain.html").write_bytes(response.content)
    # The cookies a signed-in browser sends: the session and the CSRF cookie the first page set
    # (without it, every page that shows a CSRF token would mint a new secret and set its cookie,
    # which a browser pays once).
    cookie = "; ".join(
        f"{name}={client.cookies[name].value}" for name in (settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME)
    )
    in_process = _logged_vs_unlogged_in_process(client, gated, 150 if quick else 400)

    cores = os.cpu_count() or 1
    workers = 2 * cores + 1
    port = _free_port()
    # Short runs, many rounds, the pages' order reversed every other round: on a shared machine the
    # throughput drifts by tens of percent within seconds, and the ratios (medians of the rounds)
    # are steadier when every page is sampled often and as early as late.
    duration = duration or (2.0 if quick else 3.0)
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or "gunicorn"
    command = [
        gunicorn, "portal.wsgi:application", "--workers", str(workers), "--bind", f"127.0.0.1:{port}",
        "--log-level", "warning", "--timeout", "60",
    ]  # fmt: skip
    loader = "wrk" if ensure_wrk() else "python"
    connections = 2 * workers
    log(
        f"  gunicorn: {workers} workers on 127.0.0.1:{port}; "
        f"load: {loader}, {connections} connections, {duration:.0f}s runs"
    )
    process = subprocess.Popen(command, cwd=ROOT, env=os.environ.copy(), start_new_session=True)  # noqa: S603
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if _get(port, "/healthz", "")[0] == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                return {"error": "gunicorn did not start"}
            time.sleep(0.2)
        # In this order, each ratio's two pages run back to back (plain and gated, gated and
        # unlogged), whichever way a round goes.
        pages = {
            "plain": "/bench/plain/",
            "gated": gated,
            "gated_unlogged": "/bench/unlogged" + gated,
            "gated_no_bell": "/bench/no-bell" + gated,  # the same page without the bell's query
            "same_template": f"/bench/same-template/{livestream_id}/",
        }
        statuses = {}
        for name, path in pages.items():
            status, body = _get(port, path, cookie)
            statuses[name] = (status, len(body))
        if any(status != 200 for status, _size in statuses.values()):
            return {"error": f"unexpected statuses: {statuses}"}
        run = _wrk if loader == "wrk" else _python_load
        # Warm every worker on every page, then take the pages in turn, run after run.
        for path in pages.values():
            run(port, path, cookie, 2.0, connections)
        samples = {name: [] for name in pages}
        problems = []
        for round_number in range(3 if quick else ROUNDS):
            in_turn = list(pages.items())
            for name, path in in_turn if round_number % 2 == 0 else in_turn[::-1]:
                result = run(port, path, cookie, duration, connections)
                samples[name].append(result["rps"])
                if result["non_2xx"] or result["socket_errors"]:
                    problems.append(f"{name}: non-2xx {result['non_2xx']} {result['socket_errors']}".strip())
                # wrk counts a redirect as a success: a page that lost its session (another bench run
                # on this database truncates django_session) would be timed as a fast 302 to login.
                status, _body = _get(port, path, cookie)
                if status != 200:
                    problems.append(f"{name}: answered {status} after a run (its timings are not the page's)")
        worker_pids = _children(process.pid)
        rss = {pid: _rss_mb(pid) for pid in worker_pids}
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    rps = {name: median(values) for name, values in samples.items()}

    def paired(page: str, baseline: str) -> float | None:
        """The median of the rounds' ratios (``page`` over ``baseline`` in the same round, seconds
        apart): the machine's drift between rounds cancels out of each ratio, which a ratio of the
        two pages' medians keeps (both are reported)."""
        ratios = [a / b for a, b in zip(samples[page], samples[baseline], strict=True) if b]
        return round(median(ratios), 2) if ratios else None

    values = [v for v in rss.values() if v is not None]
    return {
        "gated_path": gated,
        "plain_path": pages["plain"],
        "same_template_path": pages["same_template"],
        "page_bytes": statuses["gated"][1],
        "plain_bytes": statuses["plain"][1],
        "user": user.username,
        "workers": workers,
        "load_generator": loader,
        "connections": connections,
        "run_seconds": duration,
        "gated_rps": round(rps["gated"], 1),
        "plain_rps": round(rps["plain"], 1),
        "same_template_rps": round(rps["same_template"], 1),
        "gated_rps_runs": samples["gated"],
        "plain_rps_runs": samples["plain"],
        "same_template_rps_runs": samples["same_template"],
        "gated_vs_plain_ratio": paired("gated", "plain"),
        "gated_vs_plain_ratio_of_medians": round(rps["gated"] / rps["plain"], 2) if rps["plain"] else None,
        # Diagnostic (no target): what the bell (the unread count, one query) costs the gated page.
        "gated_no_bell_rps": round(rps["gated_no_bell"], 1),
        "gated_no_bell_rps_runs": samples["gated_no_bell"],
        "bell_cost_pct": round(100 * (1 - rps["gated"] / rps["gated_no_bell"]), 1) if rps["gated_no_bell"] else None,
        # The data-access log's cost (issue 15): the gated page with its log write over the same
        # page with the write turned off, measured in the same runs, alternating.
        "gated_unlogged_path": pages["gated_unlogged"],
        "gated_unlogged_rps": round(rps["gated_unlogged"], 1),
        "gated_unlogged_rps_runs": samples["gated_unlogged"],
        "logged_vs_unlogged_ratio": paired("gated", "gated_unlogged"),
        "logged_vs_unlogged_ratio_of_medians": (
            round(rps["gated"] / rps["gated_unlogged"], 2) if rps["gated_unlogged"] else None
        ),
        # Diagnostic: the same comparison one request at a time, in the harness's process.
        "logged_vs_unlogged_in_process": in_process,
        # Diagnostic (no target): the gate and the data queries alone, template rendering taken out.
        "gated_vs_same_template_ratio": round(rps["gated"] / rps["same_template"], 2) if rps["same_template"] else None,
        "worker_rss_mb": max(values) if values else None,
        "worker_rss_mb_each": sorted(values),
        "problems": problems,
    }


# --- import vs COPY ---------------------------------------------------------------------------------


IMPORT_LIVESTREAMS = 150
IMPORT_MINUTES = 150


def _import_file(path: Path) -> int:
    """JSON Lines in the import format, for bench creators and shops; returns the minute count."""
    from livestreams.management.commands import make_sample_livestreams as sample
    from portal.models import Organization

    shops = list(Organization.objects.filter(kind="shop").order_by("pk").values_list("code", flat=True)[:31])
    rng = random.Random(7)
    start = datetime.datetime(2026, 6, 1, 19, 0, tzinfo=sample.SHANGHAI)
    original = sample.SHOPS
    sample.SHOPS = shops  # the sample generator's shop list, pointed at bench shops for this file
    try:
        lines = []
        for index in range(IMPORT_LIVESTREAMS):
            record = sample.sample_record(
                rng,
                external_id=f"bench-import-{index:04d}",
                creator=f"dy_b{4 + index:05d}",
                started_at=start + datetime.timedelta(days=index),
                count=IMPORT_MINUTES,
            )
            lines.append(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
    finally:
        sample.SHOPS = original
    path.write_text("".join(lines), encoding="utf-8")
    return IMPORT_LIVESTREAMS * IMPORT_MINUTES


def _delete_imported() -> None:
    from livestreams import writes
    from livestreams.models import Livestream

    imported = Livestream.objects.filter(external_id__startswith="bench-import-")
    writes.delete_livestreams(ids=imported.values_list("pk", flat=True))


def measure_import(quick: bool, workdir: str) -> dict:
    """The import of the bench file against ``COPY`` of the very rows it wrote.

    The baseline (``import_vs_copy_ratio``) is ``COPY`` of those rows into the minute table itself,
    in a transaction timed to its ``COMMIT``: what any loader pays for these rows in this schema,
    its deferred foreign key to the livestream checked row by row at the commit included. A second
    baseline, ``COPY`` into a scratch table made ``LIKE`` the minute table (its indexes, no foreign
    key), is printed as a diagnostic: the import against the bare table.
    """
    from django.core.management import call_command
    from django.db import transaction

    from livestreams.models import Livestream, MinutePoint

    path = Path(workdir) / "import.jsonl"
    minutes = _import_file(path)
    runs = 2 if quick else 3
    import_seconds, copy_seconds, scratch_seconds = [], [], []
    table = connection.ops.quote_name(MinutePoint._meta.db_table)
    columns = ", ".join(
        connection.ops.quote_name(MinutePoint._meta.get_field(name).column)
        for name in ("livestream", "at", "online", "entries", "gmv", "orders")
    )
    imported_minutes = MinutePoint.objects.filter(livestream__external_id__startswith="bench-import-")

    def timed_copy(target: str) -> float:
        started = time.perf_counter()
        with (
            transaction.atomic(),
            connection.cursor() as cursor,
            cursor.copy(f"COPY {target} ({columns}) FROM STDIN") as copy,
        ):
            copy.write(text)
        return time.perf_counter() - started

    try:
        _delete_imported()
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS bench_copy_scratch")
            cursor.execute(f"CREATE TABLE bench_copy_scratch (LIKE {table} INCLUDING ALL)")
        for _ in range(runs):
            _delete_imported()
            out, err = io.StringIO(), io.StringIO()
            started = time.perf_counter()
            call_command("import_livestreams", str(path), stdout=out, stderr=err, verbosity=0)
            import_seconds.append(time.perf_counter() - started)
            if f"created {IMPORT_LIVESTREAMS}," not in out.getvalue():
                raise RuntimeError(f"import failed: {out.getvalue()} {err.getvalue()[:500]}")
            # The very rows this run wrote (their livestreams' ids are new each run), as COPY text:
            # what a COPY from a file would read.
            rows = imported_minutes.values_list("livestream_id", "at", "online", "entries", "gmv", "orders")
            text = "".join(f"{a}\t{b.isoformat()}\t{c}\t{d}\t{e}\t{f}\n" for a, b, c, d, e, f in rows)
            # The same rows again, into the table they were imported into (their livestreams stay).
            imported_minutes.delete()
            copy_seconds.append(timed_copy(table))
            with connection.cursor() as cursor:
                cursor.execute("TRUNCATE bench_copy_scratch")
            scratch_seconds.append(timed_copy("bench_copy_scratch"))
    finally:
        _delete_imported()
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE IF EXISTS bench_copy_scratch")
    assert not Livestream.objects.filter(external_id__startswith="bench-import-").exists()
    import_rate = minutes / median(import_seconds)
    copy_rate = minutes / median(copy_seconds)
    scratch_rate = minutes / median(scratch_seconds)
    return {
        "livestreams": IMPORT_LIVESTREAMS,
        "minute_points": minutes,
        "import_seconds": [round(s, 3) for s in import_seconds],
        "copy_seconds": [round(s, 3) for s in copy_seconds],
        "scratch_copy_seconds": [round(s, 3) for s in scratch_seconds],
        "import_rows_per_s": round(import_rate),
        "copy_rows_per_s": round(copy_rate),
        "scratch_copy_rows_per_s": round(scratch_rate),
        "import_vs_copy_ratio": round(import_rate / copy_rate, 2),
        "import_vs_scratch_copy_ratio": round(import_rate / scratch_rate, 2),
    }


# --- all of it ------------------------------------------------------------------------------------------


def run(*, only: list[str], quick: bool, duration: float | None, previous: dict, workdir: str) -> dict:
    results = {"run_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"), "quick": quick}
    timings = {}
    steps = (
        ("access", lambda: measure_access(quick)),
        ("lists", lambda: measure_lists(quick)),
        ("overview", lambda: measure_overview(quick)),
        ("pages", lambda: pages.measure_pages(quick)),
        ("import", lambda: measure_import(quick, workdir)),
        ("throughput", lambda: measure_throughput(quick, duration, workdir)),
        ("reminders", lambda: reminders.measure_reminders(quick)),
    )
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE django_session")
    for name, step in steps:
        if name in only:
            log(f"bench: measuring {name} …")
            started = time.monotonic()
            results[name] = step()
            timings[name] = round(time.monotonic() - started, 1)
        elif name in previous:
            results[name] = previous[name]
            results.setdefault("kept_from_previous_run", []).append(name)
    results["section_seconds"] = timings
    results["targets"] = targets(results)
    return results


def targets(results: dict) -> dict:
    rows = {}
    access = results.get("access") or {}
    if access:
        rows["access_check_ratio"] = access.get("access_check_ratio")
        if "delegate_check_ratio" in access:
            rows["delegate_check_ratio"] = access.get("delegate_check_ratio")
    for page, data in (results.get("lists") or {}).items():
        if data.get("state") == "measured":
            rows[f"list_scale_ratio[{page}]"] = data.get("list_scale_ratio")
    for name, data in ((results.get("overview") or {}).get("ranges") or {}).items():
        rows[f"overview_range_ratio[{name}]"] = data.get("ratio")
    throughput = results.get("throughput") or {}
    rows["gated_vs_plain_ratio"] = throughput.get("gated_vs_plain_ratio")
    rows["logged_vs_unlogged_ratio"] = throughput.get("logged_vs_unlogged_ratio")
    rows["worker_rss_mb"] = throughput.get("worker_rss_mb")
    rows["import_vs_copy_ratio"] = (results.get("import") or {}).get("import_vs_copy_ratio")
    if results.get("reminders"):
        rows["reminders_nothing_due_s"] = results["reminders"].get("nothing_due_s")
    out = {}
    for name, value in rows.items():
        base = name.split("[")[0]
        op, limit = TARGETS[base]
        ok = passes(base, value)
        out[name] = {"value": value, "target": f"{op} {limit}", "pass": ok}
    return out


def report(results: dict) -> None:
    p = print
    m = results.get("machine", {})
    p(f"\nmachine: {m.get('nproc')} cores, {m.get('memory_gib')} GiB, {m.get('cpu')}; PostgreSQL {m.get('postgresql')}")
    data = results.get("data_set", {})
    p(
        f"data set: {data.get('grants', '?'):,} grants, {data.get('livestreams', '?'):,} livestreams, "
        f"{data.get('minutes', '?'):,} minute points, {data.get('requests', '?'):,} requests "
        f"({'reused' if data.get('reused') else 'built'}; build took {data.get('build_seconds', 0):.0f}s)"
    )
    access = results.get("access")
    if access:
        p("\n== access checks (µs per call, median) ==")
        for name, value in access["per_call_us"].items():
            ratio = access["ratios"].get(name)
            p(f"  {name:<40} {value:>8.1f} µs" + (f"   × {ratio:.2f} of bare_exists" if ratio else ""))
        p(
            "  index scans only: "
            + ("yes" if access["index_scans_only"] else "NO: seq scan on " + ", ".join(access["seq_scans"]))
        )
        for name in [key for key in access["explain"] if not key.endswith("_queries")]:
            for plan in access["explain"][name]:
                p(f"  EXPLAIN {name}:")
                for line in plan["text"].splitlines():
                    p(f"    {line}")
    lists = results.get("lists")
    if lists:
        p("\n== list pages (server time in ms: p50 / p95; queries) ==")
        header = "  " + f"{'page':<18}" + "".join(f"{s:>22}" for s in SCALES) + f"{'ratio':>8}  state"
        p(header)
        for page, info in lists.items():
            cells = []
            for scale in SCALES:
                point = info["points"][scale]
                if "p50_ms" in point:
                    cells.append(f"{point['p50_ms']:>7.1f} / {point['p95_ms']:>6.1f} q{point['queries']:<3}")
                else:
                    cells.append(f"{'—':>18}")
            ratio = info["list_scale_ratio"]
            p(
                "  "
                + f"{page:<18}"
                + "".join(f"{c:>22}" for c in cells)
                + f"{ratio if ratio else '—':>8}  {info['state']}"
            )
        p(
            "  rows per point: "
            + "; ".join(
                f"{page}: "
                + ", ".join(f"{s}={info['points'][s]['party']} ({info['points'][s]['rows']:,})" for s in SCALES)
                for page, info in lists.items()
            )
        )
        deep = {page: info["deep_pages"] for page, info in lists.items() if info.get("deep_pages")}
        if deep:
            p(
                "  deep pages (largest list, page 400 vs page 1, p50 ms): "
                + "; ".join(
                    f"{page} {d['page_400_ms']} vs {d['page_1_ms']} (×{d['ratio']})" for page, d in deep.items()
                )
            )
    overview = results.get("overview")
    if overview:
        report_overview(overview)
    if results.get("pages"):
        pages.report(results["pages"], p)
    throughput = results.get("throughput")
    if throughput:
        p("\n== throughput under gunicorn ==")
        if "error" in throughput:
            p(f"  ERROR: {throughput['error']}")
        else:
            t = throughput
            p(
                f"  {t['workers']} workers, {t['load_generator']} with {t['connections']} connections, "
                f"{t['run_seconds']:.0f}s runs; page {t['page_bytes']:,} bytes (plain {t['plain_bytes']:,})"
            )
            p(f"  gated {t['gated_path']}: {t['gated_rps']:.0f} req/s  runs {t['gated_rps_runs']}")
            if t.get("gated_no_bell_rps"):
                p(
                    f"  diagnostic, the gated page without the bell: {t['gated_no_bell_rps']:.0f} req/s  "
                    f"runs {t['gated_no_bell_rps_runs']} (the bell costs {t['bell_cost_pct']} %)"
                )
            p(f"  plain {t['plain_path']}: {t['plain_rps']:.0f} req/s  runs {t['plain_rps_runs']}")
            if "gated_vs_plain_ratio_of_medians" in t:
                p(
                    f"  gated/plain: median of the rounds' ratios {t['gated_vs_plain_ratio']}, "
                    f"ratio of the medians {t['gated_vs_plain_ratio_of_medians']}"
                )
            if "gated_unlogged_rps" in t:
                p(
                    f"  the gated page without the data-access log's write {t['gated_unlogged_path']}: "
                    f"{t['gated_unlogged_rps']:.0f} req/s  runs {t['gated_unlogged_rps_runs']}  "
                    f"(logged/unlogged: median of the rounds' ratios {t['logged_vs_unlogged_ratio']}, "
                    f"ratio of the medians {t.get('logged_vs_unlogged_ratio_of_medians')})"
                )
            if "logged_vs_unlogged_in_process" in t:
                ip = t["logged_vs_unlogged_in_process"]
                p(
                    f"  diagnostic, one request at a time in-process ({ip['pairs']} interleaved pairs, medians): "
                    f"logged {ip['logged_ms']} ms, unlogged {ip['unlogged_ms']} ms (throughput ratio {ip['ratio']})"
                )
            p(
                f"  diagnostic, the gated page's template from memory {t['same_template_path']}: "
                f"{t['same_template_rps']:.0f} req/s  runs {t['same_template_rps_runs']}  "
                f"(gated/same-template {t['gated_vs_same_template_ratio']})"
            )
            p(f"  worker RSS after the runs: {t['worker_rss_mb_each']} MB")
            for problem in t["problems"]:
                p(f"  problem: {problem}")
    imported = results.get("import")
    if imported:
        i = imported
        p("\n== import vs COPY (minute points) ==")
        p(
            f"  import_livestreams: {i['import_rows_per_s']:,} rows/s  (runs {i['import_seconds']} s "
            f"for {i['minute_points']:,} points in {i['livestreams']} livestreams)"
        )
        p(
            f"  COPY into the minute table, to COMMIT: {i['copy_rows_per_s']:,} rows/s  (runs {i['copy_seconds']} s)"
            "  = the baseline"
        )
        if "scratch_copy_rows_per_s" in i:
            p(
                f"  diagnostic, COPY into a scratch table without the foreign key: {i['scratch_copy_rows_per_s']:,} "
                f"rows/s  (runs {i['scratch_copy_seconds']} s; import/scratch {i['import_vs_scratch_copy_ratio']})"
            )
    if results.get("reminders"):
        reminders.report(results["reminders"])
    p("\n== targets ==")
    for name, row in results.get("targets", {}).items():
        verdict = "—" if row["pass"] is None else "PASS" if row["pass"] else "MISS"
        p(f"  {verdict:<5} {name:<36} {row['value']!s:>8}  (target {row['target']})")
    if results.get("kept_from_previous_run"):
        p(f"  (kept from the previous run: {', '.join(results['kept_from_previous_run'])})")


def report_overview(overview: dict) -> None:
    p = print
    parties = overview["parties"]
    p(
        "\n== creator overview by range: big (creator {big[creator]}, {big[livestreams]:,} livestreams) against small "
        "(creator {small[creator]}, {small[livestreams]:,}) ==".format(**parties)
    )
    p("  server time in ms, p50 / p95; queries; CPU ms of this process (median)")
    p(f"  {'range':<6}{'big':>24}{'small':>24}{'ratio':>8}   before (top lists from the products): big, small, ratio")
    for name, entry in overview["ranges"].items():
        after, before = entry["roll-up"], entry["plain"]

        def cell(side):
            return f"{side['p50_ms']:>7.1f} / {side['p95_ms']:>6.1f} q{side['queries']} c{side['cpu_ms']:.0f}"

        p(
            f"  {name:<6}{cell(after['big']):>24}{cell(after['small']):>24}{after['ratio']:>8}   "
            f"{before['big']['p50_ms']:.1f}, {before['small']['p50_ms']:.1f}, {before['ratio']}"
        )
    for side, plans in overview["plans"].items():
        p(f"  plans ({side}): " + ", ".join(f"{key} {value['plan']}" for key, value in plans.items()))
    p(
        "  sizes: "
        + "; ".join(f"{table} {v['rows']:,} rows {v['total_mb']} MB" for table, v in overview["sizes"].items())
    )
    for key in ("366d/products", "366d/shops"):
        p(f"  EXPLAIN (big, {key}):")
        for line in overview["plans"]["big"][key]["explain"].splitlines():
            p(f"    {line}")
