"""Values no form expects: huge numbers, garbage text, odd dates, hostile ``next`` URLs, extra fields."""

from __future__ import annotations

import datetime

from hypothesis import strategies as st

from .helpers import MISSING
from .oracle import today

HUGE_INTS = st.one_of(
    st.sampled_from([2**31 - 1, 2**31, 2**32, 2**53 + 1, 2**63 - 1, 2**63, 2**64, 10**20, 10**100]),
    st.integers(min_value=2**63, max_value=10**40),
)
# fmt: off
SQLISH = [
    "' OR '1'='1", "1; DROP TABLE grants_grant; --", "1 OR 1=1", '" OR ""="',
    "%' AND 1=0 UNION SELECT username, password FROM portal_user --", "\\'; SELECT pg_sleep(10); --",
    "<script>alert(1)</script>", "{{ 7*7 }}", "${jndi:ldap://x}", "../../../../etc/passwd", "%00", "%s%s%s%n",
]
# fmt: on
# fmt: off
ODD_STRINGS = [
    "", " ", "\t\n", "null", "None", "undefined", "NaN", "-0", "0", "-1", "1e400", "0x10", "1_000", "١٢٣",
    "１２３", "\u202e1", "😀", "中文", "a\x00b", "\x00",
]
# fmt: on


def garbage(*, nul: bool = True) -> st.SearchStrategy[str]:
    """Text no form expects: random, unicode, very long, NUL bytes, SQL- and markup-looking."""
    options = [
        st.text(max_size=40),
        st.sampled_from(SQLISH + ODD_STRINGS),
        st.text(min_size=1, max_size=8).map(lambda s: s * 2000),  # very long
        HUGE_INTS.map(str),
        st.integers().map(str),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.just("9" * 5000),
    ]
    if nul:
        options.append(st.text(max_size=10).map(lambda s: f"{s}\x00{s}"))
    strategy = st.one_of(options)
    if not nul:
        strategy = strategy.filter(lambda s: "\x00" not in s)
    return strategy


# fmt: off
ODD_DATES = [  # out of range, impossible, not the format
    "0001-01-01", "0001-01-02", "9999-12-30", "9999-12-31", "2026-02-30", "2026-02-29", "2028-02-29",
    "2026-13-01", "2026-00-10", "2026-12-32", "20261201", "2026/12/01", "12/01/2026", "2026-12-01T00:00:00",
    " 2026-12-01 ", "2026-12-01\x00", "+2026-12-01", "-2026-12-01", "10000-01-01", "0000-01-01",
]
# fmt: on


def date_values() -> st.SearchStrategy[str]:
    """Dates near today (valid or not by the rules), out of range, impossible, malformed, garbage."""
    day = today()
    return st.one_of(
        st.dates(day - datetime.timedelta(days=60), day + datetime.timedelta(days=800)).map(datetime.date.isoformat),
        st.sampled_from(ODD_DATES),
        st.dates().map(datetime.date.isoformat),  # anywhere in 0001..9999
        garbage(),
        st.just(MISSING),
    )


NEXT_VALUES = st.one_of(
    st.just(MISSING),
    st.sampled_from(
        [
            "/grants/",
            "/requests/?status=all",
            "https://evil.example/",
            "//evil.example/",
            "///evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "javascript:alert(1)",
            "http://testserver.evil.example/",
            "https://testserver/grants/",
            "data:text/html,<script>alert(1)</script>",
            "abc",  # a bare word: not a path, and not to be taken for a URL name
            "home",
            "0",
        ]
    ),
    garbage().map(lambda s: "/" + s),
)
EXTRA_FIELDS = st.dictionaries(
    st.sampled_from(["creator", "actor", "status", "revoked_at", "is_latest", "grant", "id", "pk", "x", "starts_on[]"]),
    garbage(),
    max_size=3,
)
HTMX = st.sampled_from(["plain", "htmx", "htmx-from-list"])
