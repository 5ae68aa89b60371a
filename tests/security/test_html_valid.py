"""Valid HTML (issue 19): the W3C Nu HTML Checker over every page the URL × role crawl renders.

Every route of the crawl (tests/security/test_crawl.py) is requested by every role, GET and POST,
as a plain page and as the HTMX fragment (a dialog, a list) that the page's scripts swap in. Each
HTML body (pages as they are; fragments inside a minimal document) is written to a folder, and the
checker (``vnu.jar`` from the npm package ``vnu-jar``, pinned in tools/package-lock.json and
installed by ``make test``) runs ONCE over the folder: one JVM start for all pages. Any error fails
the test with the list, page by page.

One kind of message is left out on purpose: HTML does not define htmx's ``hx-*`` attributes, so the
checker reports each of them ("Attribute “hx-get” not allowed on element “a” at this point"). htmx
documents ``hx-*`` as its attributes (it also reads ``data-hx-*``); the messages say nothing about a
real defect (see README, "Valid HTML"). Only messages naming an attribute that begins with ``hx-``
are filtered; every other message fails.

Without Java or the jar the test is skipped with the reason, unless REQUIRE_VNU=1 (or
REQUIRE_BROWSER=1, as CI sets both) turns the skip into a failure.
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from django.urls import reverse

from tests.security.test_crawl import EXPECTED, POST_DATA, ROLES, ROUTES, request_as, world  # noqa: F401

ROOT = Path(__file__).resolve().parents[2]
VNU_JAR = Path(os.environ.get("VNU_JAR") or ROOT / "tools" / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar")
# The checker's messages about htmx's attributes, and only those: the attribute's name begins with "hx-".
HTMX_ATTRIBUTE = re.compile(r"^Attribute “hx-[a-z0-9:-]+” not allowed on element “[^”]+” at this point\.$")
# A page's tab views beyond the crawl's bare URLs (role, route, query).
TAB_VIEWS = [
    ("owner", "grants:creator_grants", "?status=pending"),
    ("owner", "grants:creator_grants", "?status=requests"),
    ("owner", "grants:creator_grants", "?status=expired"),
    ("owner", "grants:creator_requests", "?status=all"),
    ("owner", "grants:creator_requests", "?status=approved"),
    ("main_with_access", "notifications:inbox", "?show=all"),
    ("main_with_access", "grants:request_grant", "?q=机"),
    ("owner", "livestreams:creator_livestreams", "?range=90"),
    ("main_with_access", "livestreams:creator_livestreams", "?range=90"),
]
FRAGMENT_SHELL = (
    '<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>fragment</title></head><body>{}</body></html>'
)


def vnu_missing_reason() -> str | None:
    if not shutil.which("java"):
        return "java not found (apt-get install default-jre-headless; REQUIRE_VNU=1 turns this skip into a failure)"
    if not VNU_JAR.exists():
        return f"{VNU_JAR} not found (cd tools && npm ci; REQUIRE_VNU=1 turns this skip into a failure)"
    return None


@pytest.fixture
def vnu():
    reason = vnu_missing_reason()
    if reason:
        if os.environ.get("REQUIRE_VNU") == "1" or os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)

    def check(folder: Path) -> list[dict]:
        result = subprocess.run(
            ["java", "-Xss4m", "-jar", str(VNU_JAR), "--errors-only", "--format", "json", "--exit-zero-always",
             str(folder)],
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        report = json.loads(result.stderr or result.stdout)
        return report["messages"]

    return check


def tab_url(world, name: str) -> str:  # noqa: F811
    return reverse(name, kwargs={"creator_id": world["creator"].pk} if name.startswith("livestreams:creator") else {})


def body_of(response) -> str | None:
    if response.streaming or not response.get("Content-Type", "").startswith("text/html"):
        return None
    return response.content.decode()


@pytest.fixture
def crawled_pages(client, world):  # noqa: F811
    """Every HTML body the crawl renders: {file name: (label, html)}, identical bodies once."""
    pages: dict[str, tuple[str, str]] = {}
    seen: set[str] = set()

    def keep(label: str, html: str | None, fragment: bool) -> None:
        if not html:
            return
        if "<html" not in html[:300].lower():  # a fragment (a dialog, a table row, a menu)
            fragment = True
            body = html.lstrip()
            if body.startswith("<tr"):  # a row swapped into its table, then out-of-band elements
                end = body.rindex("</tr>") + len("</tr>")
                body = f"<table><tbody>{body[:end]}</tbody></table>{body[end:]}"
            html = FRAGMENT_SHELL.format(body)
        digest = hashlib.sha256(re.sub(r'value="[^"]{20,}"', "", html).encode()).hexdigest()
        if digest in seen:
            return
        seen.add(digest)
        pages[f"{'fragment' if fragment else 'page'}-{len(pages):04d}.html"] = (label, html)

    # Every GET first, then the POSTs (the refusals and forms with errors; the ones that succeed
    # change the world, so they come last).
    visits = []
    for method in ("get", "post"):
        for route in ROUTES:
            url = reverse(route.name, kwargs={name: world["ids"][name] for name in route.params})
            visits += [(route.name, role, method, url) for role in ROLES]
        if method == "get":
            visits += [(name, role, "get", tab_url(world, name) + query) for role, name, query in TAB_VIEWS]
    for name, role, method, url in visits:
        data = POST_DATA.get(name, lambda w: {})(world) if method == "post" else None
        for fragment in (False, True):
            client.logout()
            if world["users"][role] is not None:
                client.force_login(world["users"][role])
            headers = {"HX-Request": "true"} if fragment else {}
            response = getattr(client, method)(url, data or {}, headers=headers)
            kind = "fragment" if fragment else "page"
            keep(f"{role} {method.upper()} {url} ({kind}, {response.status_code})", body_of(response), fragment)
    return pages


def test_every_crawled_page_is_valid_html(vnu, crawled_pages, tmp_path):  # vnu first: skips before the crawl
    assert len(crawled_pages) > 200, "the crawl rendered too few pages to check"
    for name, (_label, html) in crawled_pages.items():
        (tmp_path / name).write_text(html, encoding="utf-8")
    messages = vnu(tmp_path)
    errors = [m for m in messages if m.get("type") != "info" and not HTMX_ATTRIBUTE.match(m.get("message", ""))]
    htmx = len(messages) - len(errors)
    pages_with_errors = {Path(m.get("url", "")).name for m in errors}
    documents = sum(name.startswith("page-") for name in crawled_pages)
    print(
        f"Nu checker: {len(crawled_pages)} bodies checked ({documents} pages, "
        f"{len(crawled_pages) - documents} fragments), {len(errors)} errors on {len(pages_with_errors)} "
        f"({htmx} messages about hx-* attributes left out)"
    )
    lines = []
    for m in errors:
        label = crawled_pages.get(Path(m.get("url", "")).name, ("?",))[0]
        lines.append(f"{label}, line {m.get('lastLine', '?')}: {m.get('message')}\n    {m.get('extract', '').strip()}")
    assert not errors, f"{len(errors)} HTML errors on {len(pages_with_errors)} of {len(crawled_pages)} pages:\n" + (
        "\n".join(lines[:200])
    )


CARD_TABLE = re.compile(r'<table class="table table-cards">(.*?)</table>', re.S)


@pytest.mark.parametrize(
    ("role", "route", "query"),
    [
        ("owner", "grants:creator_grants", ""),
        ("owner", "grants:creator_grants", "?status=pending"),
        ("owner", "grants:creator_grants", "?status=requests"),
        ("owner", "grants:creator_requests", "?status=all"),
        ("owner", "grants:creator_requests", "?status=pending"),
        ("main_with_access", "grants:org_home", ""),
        ("main_with_access", "livestreams:org_livestreams", ""),
        ("owner", "livestreams:creator_livestreams", "?range=90"),
    ],
)
def test_list_rows_carry_data_row_and_their_cells_labels(client, world, role, route, query):  # noqa: F811
    """Each row of a list is a card on a phone (CSS): it carries data-row, and every cell but the
    name, the checkbox and the actions carries its column's heading as data-label."""
    client.force_login(world["users"][role])
    html = client.get(tab_url(world, route) + query).content.decode()
    tables = CARD_TABLE.findall(html)
    assert tables, f"{route}{query}: no card list"
    for table in tables:
        headings = re.findall(r"<th scope=\"col\"(?! class=\"check\")[^>]*>(.*?)</th>", table, re.S)
        rows = re.findall(r"<tr\b([^>]*)>(.*?)</tr>", table.split("</thead>", 1)[1], re.S)
        assert rows, f"{route}{query}: an empty card list"
        for attrs, cells in rows:
            assert "data-row" in attrs, f"{route}{query}: a row without data-row"
            cells = [td for td in re.findall(r"<td\b([^>]*)>", cells) if 'class="check"' not in td]
            labels = [next(iter(re.findall(r'data-label="([^"]*)"', td)), "") for td in cells]
            expected = headings[1:-1] if "操作" in headings[-1] else headings[1:]
            assert labels[1 : 1 + len(expected)] == expected, (route, query, labels, headings)


def test_only_htmx_attribute_messages_are_left_out():
    assert HTMX_ATTRIBUTE.match("Attribute “hx-get” not allowed on element “a” at this point.")
    assert HTMX_ATTRIBUTE.match("Attribute “hx-swap-oob” not allowed on element “span” at this point.")
    for message in (
        "Attribute “data-hx-get” not allowed on element “a” at this point.",  # valid HTML: never reported
        "Attribute “x-hx-get” not allowed on element “a” at this point.",
        "Attribute “aria-label” not allowed on element “div” at this point.",
        "Bad value “” for attribute “hx-get” on element “a”.",
        "Duplicate ID “hx-title”.",
    ):
        assert not HTMX_ATTRIBUTE.match(message), message
