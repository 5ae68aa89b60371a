"""Password guessing as a CPU weapon (issue 12, item 2): a logged-in shop's gated page while anonymous
clients post wrong passwords, against gunicorn with the production settings and the real password
hasher, on loopback.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db> .venv/bin/python -m loadtest.login_attack

Migrates and seeds that database (``seed_demo`` is idempotent), clears django-axes' attempts (when it
is installed) so every run starts unthrottled, gives ``shop`` a session made in advance, starts
gunicorn (5 sync workers, ``DJANGO_DEBUG=0``, ``DJANGO_SECURE_SSL_REDIRECT=0``), then measures the
shop's view of ``creator``'s overview (``/creators/<id>/``, gated by its grant) for
``--quiet-seconds`` alone and for ``--seconds`` under ``--attackers`` threads posting wrong passwords
for ``creator`` as fast as they are answered. Prints and writes ``loadtest/login_attack.json``:
p50/p95 of the page in both phases, and the attackers' attempts, answers (200 = "wrong password",
429 = locked out) and the rate at which passwords were actually checked.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "loadtest" / "login_attack.json"
HOST = "127.0.0.1"

SESSION_SCRIPT = """
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from portal.models import Creator, User
user = User.objects.get(username="shop")
store = SessionStore()
store[SESSION_KEY] = str(user.pk)
store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
store[HASH_SESSION_KEY] = user.get_session_auth_hash()
store.create()
print(store.session_key, Creator.objects.get(user__username="creator").pk)
"""


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def request(port: int, method: str, path: str, *, headers=None, body=None, timeout=60):
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        connection.close()


def measure_page(port: int, path: str, cookie: str, stop: threading.Event, samples: list[float], errors: list):
    while not stop.is_set():
        started = time.perf_counter()
        try:
            status, _headers, _body = request(port, "GET", path, headers={"Cookie": cookie})
        except OSError as error:
            errors.append(repr(error))
            continue
        elapsed = (time.perf_counter() - started) * 1000
        if status != 200:
            errors.append(status)
        samples.append(elapsed)


def attacker(port: int, stop: threading.Event, answers: dict, lock: threading.Lock):
    status, headers, body = request(port, "GET", "/accounts/login/")
    token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', body).group(1).decode()
    cookie = "; ".join(value.split(";")[0] for name, value in headers if name.lower() == "set-cookie")
    form = urlencode({"username": "creator", "password": "wrong-guess", "csrfmiddlewaretoken": token})
    while not stop.is_set():
        try:
            status, _headers, _body = request(
                port, "POST", "/accounts/login/", body=form,
                headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded",
                         "Referer": f"http://{HOST}:{port}/accounts/login/"},
            )  # fmt: skip
        except OSError:
            status = "error"
        with lock:
            answers[status] = answers.get(status, 0) + 1


def phase(port: int, path: str, cookie: str, seconds: float, attackers: int) -> dict:
    stop = threading.Event()
    samples: list[float] = []
    errors: list = []
    answers: dict = {}
    lock = threading.Lock()
    threads = [threading.Thread(target=measure_page, args=(port, path, cookie, stop, samples, errors))]
    threads += [threading.Thread(target=attacker, args=(port, stop, answers, lock)) for _ in range(attackers)]
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    result = {
        "page_requests": len(samples),
        "page_errors": len(errors),
        "p50_ms": round(statistics.median(samples), 1) if samples else None,
        "p95_ms": round(percentile(samples, 0.95), 1) if samples else None,
        "max_ms": round(max(samples), 1) if samples else None,
    }
    if attackers:
        attempts = sum(answers.values())
        result.update(
            attackers=attackers,
            attempts=attempts,
            attempts_per_second=round(attempts / seconds, 1),
            answers={str(key): value for key, value in sorted(answers.items(), key=str)},
            # A 200 is a password checked and found wrong; a 429 was refused before any hashing.
            passwords_checked_per_minute=round(answers.get(200, 0) / seconds * 60, 1),
        )
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attackers", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--quiet-seconds", type=float, default=15)
    parser.add_argument("--port", type=int, default=int(os.environ.get("ATTACK_PORT", "8766")))
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1) + 1)
    parser.add_argument("--label", default="")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("needs DATABASE_URL=postgres://…")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "login-attack-only-" + "k" * 40,
        "DJANGO_ALLOWED_HOSTS": HOST,
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DJANGO_SECURE_COOKIES": "0",
        "PYTHONPATH": str(ROOT),
    }
    python = sys.executable
    for command in (["migrate", "--no-input", "-v0"], ["collectstatic", "--no-input", "-v0"], ["seed_demo"]):
        subprocess.run([python, "manage.py", *command], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    # Every run starts unthrottled (the previous run's lockout of 127.0.0.1 would still hold).
    subprocess.run([python, "manage.py", "axes_reset"], cwd=ROOT, env=env, capture_output=True, check=False)
    out = subprocess.run(
        [python, "manage.py", "shell", "-c", SESSION_SCRIPT], cwd=ROOT, env=env, check=True, capture_output=True
    )
    session_key, creator_id = out.stdout.decode().split()[-2:]
    cookie, path = f"sessionid={session_key}", f"/creators/{creator_id}/"
    gunicorn = [str(Path(python).parent / "gunicorn"), "portal.wsgi", "-w", str(args.workers)]
    server = subprocess.Popen([*gunicorn, "-b", f"{HOST}:{args.port}", "--log-level", "warning"], cwd=ROOT, env=env)
    try:
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://{HOST}:{args.port}/healthz", timeout=2):  # noqa: S310
                    break
            except OSError:
                time.sleep(0.2)
        status, _headers, _body = request(args.port, "GET", path, headers={"Cookie": cookie})
        assert status == 200, f"the shop's session does not open {path}: {status}"
        results = {
            "label": args.label,
            "workers": args.workers,
            "quiet": phase(args.port, path, cookie, args.quiet_seconds, 0),
            "attack": phase(args.port, path, cookie, args.seconds, args.attackers),
        }
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        subprocess.run([python, "manage.py", "axes_reset"], cwd=ROOT, env=env, capture_output=True, check=False)
    print(json.dumps(results, indent=2, ensure_ascii=False))
    RESULTS.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
