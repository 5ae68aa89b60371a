"""The benchmark harness (issue 7): ``make bench`` / ``python -m bench``.

Builds (or reuses) a million-grant data set in its own PostgreSQL database, measures the access
checks, the list pages at four scales, throughput under gunicorn and the import rate, prints a
table with PASS/MISS per target, and writes ``bench/results.json`` and ``bench/scale.svg``.
See ``docs/performance.md``. Nothing here is part of the application or of ``make test``.
"""
