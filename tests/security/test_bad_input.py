"""Bad input (issue 6, item 5): generated form posts, parameters, URLs and import lines.

For every form and parameter of the portal, Hypothesis generates values a browser would never send
— dates out of range, garbage and SQL-looking strings, NUL bytes, very long and huge values, missing
fields, other parties' ids, tampered hidden fields — and each test asserts:

- never a 500: exceptions propagate from the test client, so a crash fails the test with its traceback;
- never a write that is not expected: the rows of ``Grant``, ``GrantEvent``,
  ``LivestreamAccessRequest`` and ``LivestreamAccessEvent`` change only when the post is valid (the
  test's own oracle, written from SPEC §4–§5, says so), and then by exactly one operation;
- always a readable answer: the inline error text naming the rule, or 403/404.

Each example runs inside a savepoint that is rolled back, so examples do not leak into each other;
the world is built once per test. The import command is fuzzed with whole files of broken lines.

The bugs these tests found (each has its own regression test in the section "bugs found") are fixed;
the generators cover their classes of input again.
"""

from __future__ import annotations

import datetime
import io
import json
import re
import unicodedata
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import quote, unquote, urlencode, urlsplit

import pytest
from django.conf import settings as django_settings
from django.contrib.messages import get_messages
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.test import Client
from django.urls import Resolver404, resolve, reverse
from django.utils import timezone
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from grants import services
from grants.factories import GrantFactory
from grants.models import Grant, GrantEvent, LivestreamAccessEvent, LivestreamAccessRequest
from grants.perspective import SESSION_KEY
from livestreams.factories import LivestreamFactory
from livestreams.models import Audience, Cooperation, Funnel, Livestream, MinutePoint, ProductSale, TrafficSources
from portal.factories import DEMO_PASSWORD, AgencyFactory, CreatorFactory, ShopFactory, SubAccountFactory, UserFactory
from portal.models import Creator, Organization
from tests.urlmap import all_routes

pytestmark = pytest.mark.django_db

ENGINE = django_settings.DATABASES["default"]["ENGINE"]
ON_SQLITE = ENGINE.endswith("sqlite3")
ON_POSTGRES = "postgresql" in ENGINE

FUZZ = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


def fuzz(examples: int) -> settings:
    """Hypothesis settings: ``examples`` per test (the whole file stays under a minute on PostgreSQL)."""
    return settings(FUZZ, max_examples=examples)


COUNTED = (Grant, GrantEvent, LivestreamAccessRequest, LivestreamAccessEvent)
MISSING = "<missing>"  # a field left out of the post altogether
HOST = "testserver"


def table_counts(models) -> dict[str, int]:
    """Row counts of ``models`` in one query."""
    tables = (connection.ops.quote_name(m._meta.db_table) for m in models)
    parts = ", ".join(f"(SELECT COUNT(*) FROM {table})" for table in tables)  # noqa: S608 - model tables
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {parts}")
        return dict(zip((m.__name__ for m in models), cursor.fetchone(), strict=True))


def counts() -> dict[str, int]:
    return table_counts(COUNTED)


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {name: after[name] - before[name] for name in before if after[name] != before[name]}


@contextmanager
def rolled_back():
    """One example: whatever it writes is undone, so the next one starts from the same world."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def today() -> datetime.date:
    return timezone.localdate()


def text_of(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode("utf-8", "replace")
    return response.content.decode("utf-8", "replace")


def is_safe_location(response) -> bool:
    """The redirect stays on this site: a path, or a URL of this host (browsers read '\\' as '/')."""
    parts = urlsplit(response["Location"].replace("\\", "/"))
    return parts.scheme in ("", "http", "https") and parts.netloc in ("", HOST) and not parts.path.startswith("//")


# --- the world ------------------------------------------------------------------------------------


@dataclass
class World:
    alice: Creator  # the acting creator
    bob: Creator  # another creator
    carol: Creator  # a creator who granted nobody
    shop: Organization  # holds alice's active grant; main account + sub-account
    staff: object  # shop's sub-account
    grants: dict[str, Grant]  # alice's grants by status, plus "foreign" (bob's)
    free_orgs: list[Organization]  # never granted by alice
    streams: dict[str, Livestream]
    requests: dict[str, LivestreamAccessRequest]

    @property
    def main(self):
        return self.shop.main_account


@pytest.fixture
def world(db) -> World:
    alice = CreatorFactory(name="甲达人", user=UserFactory(username="alice", password=DEMO_PASSWORD))
    bob, carol = CreatorFactory(name="乙达人"), CreatorFactory(name="丙达人")
    shop = ShopFactory(name="一号店")
    staff = SubAccountFactory(organization=shop)
    scheduled_org, expired_org, revoked_org = ShopFactory(), ShopFactory(), AgencyFactory()
    free_orgs = [ShopFactory(name="未授权店"), AgencyFactory(name="未授权机构")]
    grants = {
        "active": GrantFactory(creator=alice, organization=shop),
        "scheduled": GrantFactory(creator=alice, organization=scheduled_org, scheduled=True),
        "expired": GrantFactory(creator=alice, organization=expired_org, expired=True),
        "revoked": GrantFactory(creator=alice, organization=revoked_org, revoked=True),
        "foreign": GrantFactory(creator=bob, organization=shop),  # another creator's grant
    }
    other_shop = ShopFactory()
    streams = {
        "free": LivestreamFactory(creator=alice, cooperating=[shop, other_shop], minutes=3),
        "pending": LivestreamFactory(creator=alice, cooperating=[shop], minutes=3),
        "approved": LivestreamFactory(creator=alice, cooperating=[shop], minutes=3),
        "declined": LivestreamFactory(creator=alice, cooperating=[shop], minutes=3),
        "not_cooperated": LivestreamFactory(creator=alice, cooperating=[other_shop], minutes=3),
        "foreign": LivestreamFactory(creator=bob, cooperating=[shop], minutes=3),
    }
    requests = {}
    for name in ("pending", "approved", "declined", "foreign"):
        requests[name] = services.request_livestream_access(livestream=streams[name], actor=staff)
    services.approve_livestream_request(request=requests["approved"], actor=alice.user)
    services.decline_livestream_request(request=requests["declined"], actor=alice.user)
    for access_request in requests.values():
        access_request.refresh_from_db()
    return World(alice, bob, carol, shop, staff, grants, free_orgs, streams, requests)


def path_with_id(name: str, pk: int) -> str:
    """The URL of ``name`` with ``pk`` in its id segment, even one the resolver will not match (the
    id converter takes at most 18 digits, so such a URL is a 404 before any view runs)."""
    return reverse(name, args=[777_000_777]).replace("777000777", str(pk))


def absent_pk(model) -> int:
    return (model.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1000


# --- value generators -----------------------------------------------------------------------------

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


def post(client, url: str, fields: dict, htmx: str = "plain", *, csrf: bool = True):
    """POST as a browser's form would (urlencoded); HTMX variants add its request headers."""
    data = {key: value for key, value in fields.items() if value != MISSING}
    if csrf:
        data.setdefault("csrfmiddlewaretoken", "x" * 32)  # real forms always carry it; not enforced here
    headers = {}
    if htmx != "plain":
        headers["HTTP_HX_REQUEST"] = "true"
    if htmx == "htmx-from-list":
        headers["HTTP_HX_CURRENT_URL"] = f"http://{HOST}{reverse('grants:creator_grants')}?status=active&q=%E4%B8%80"
    return client.post(url, urlencode(data), content_type="application/x-www-form-urlencoded", **headers)


# --- the oracle: what SPEC §4 says should happen -----------------------------------------------------

REQUIRED, INVALID = "required", "invalid"
MSG_REQUIRED_DATE = "请选择日期。"
MSG_INVALID_DATE = "请输入有效的日期（YYYY-MM-DD）。"
LATEST_DATE = datetime.date(2100, 12, 31)


def parse_date(value: str):
    """The documented input format, YYYY-MM-DD (surrounding blanks ignored), as a form reads it."""
    if value in (MISSING, ""):
        return REQUIRED
    try:
        return datetime.datetime.strptime(value.strip(), "%Y-%m-%d").date()
    except ValueError:
        return INVALID


def field_errors(**values) -> list[tuple[str, str | None]]:
    """The inline errors the date fields must show: (field, message); a value with a NUL byte may be
    refused by Django's null-character check instead, with its own message."""
    errors = []
    for field, value in values.items():
        parsed = parse_date(value)
        if isinstance(parsed, str):
            message = MSG_REQUIRED_DATE if parsed == REQUIRED else MSG_INVALID_DATE
            errors.append((field, None if "\x00" in value else message))
        elif parsed > LATEST_DATE:  # a grant's dates are this century's
            errors.append((field, "日期不能晚于 2100-12-31"))
    return errors


def parse_pk(value: str):
    if value in (MISSING, ""):
        return REQUIRED
    try:
        return int(value)
    except ValueError:
        return INVALID


def period_error(starts: datetime.date, ends: datetime.date) -> tuple[str, str] | None:
    if starts < today():
        return ("starts_on", "开始日期不能早于今天")
    if ends < starts:
        return ("ends_on", "截止日期不能早于开始日期")
    return None


def assert_refused(response, htmx: str, errors: list[tuple[str | None, str | None]], before: dict[str, int]) -> None:
    """Refused: nothing written, 422 (a page) or 200 (the dialog's fragment), and each expected error
    shown inline — on its field (``field``), or at the top of the form (``None``) — with its message."""
    body = text_of(response)
    assert delta(before, counts()) == {}, "a refused post wrote something"
    if htmx == "plain":
        assert response.status_code == 422, response.status_code
    else:
        assert response.status_code == 200, response.status_code
        assert "HX-Refresh" not in response
        assert "close-dialog" not in response.get("HX-Trigger", "")
    assert re.search(r'class="(errorlist|form-errors)', body), "no inline error shown"
    for field, message in errors:
        if field is not None:
            assert f'id="id_{field}_error"' in body, f"no inline error on {field}"
        if message is not None:
            assert message in body, f"expected the message {message!r}"


def assert_done(response, htmx: str, before: dict[str, int], writes: dict[str, int]) -> None:
    assert delta(before, counts()) == writes
    if htmx == "plain":
        assert response.status_code == 302, response.status_code
        assert is_safe_location(response), response["Location"]
    else:
        assert response.status_code == 200, response.status_code
        assert response.get("HX-Refresh") == "true" or "close-dialog" in response.get("HX-Trigger", "")


def assert_not_found(response, before: dict[str, int]) -> None:
    assert response.status_code == 404, response.status_code
    assert delta(before, counts()) == {}


# --- full-data grant forms -----------------------------------------------------------------------


def org_values(world_orgs: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        world_orgs,  # any organization that exists is the creator's choice, whatever the picker showed
        st.sampled_from(["absent"]),  # an id that exists nowhere
        HUGE_INTS.map(str),
        st.sampled_from(["0", "-1", "1.0", " 1", "1 ", "0x1"]),
        garbage(),
        st.just(MISSING),
    )


@fuzz(60)
@given(data=st.data())
def test_authorize_post_refuses_bad_input_and_writes_only_valid_grants(client, world, data):
    client.force_login(world.alice.user)
    org_ids = [str(pk) for pk in Organization.objects.values_list("pk", flat=True)]
    org = data.draw(org_values(st.sampled_from(org_ids)), label="organization")
    if org == "absent":
        org = str(absent_pk(Organization))
    fields = {
        "organization": org,
        "starts_on": data.draw(st.one_of(st.just(today().isoformat()), date_values()), label="starts_on"),
        "ends_on": data.draw(date_values(), label="ends_on"),
        "next": data.draw(NEXT_VALUES, label="next"),
        **data.draw(EXTRA_FIELDS, label="extra"),
    }
    htmx = data.draw(HTMX, label="htmx")

    errors = []
    pk = parse_pk(org)
    organization = Organization.objects.filter(pk=pk).first() if isinstance(pk, int) and pk < 2**63 else None
    if pk == REQUIRED:
        errors.append(("organization", "请先搜索并选择商家/机构。"))
    elif organization is None:
        errors.append(("organization", None if "\x00" in org else "所选商家/机构不存在。"))
    starts, ends = parse_date(fields["starts_on"]), parse_date(fields["ends_on"])
    errors += field_errors(starts_on=fields["starts_on"], ends_on=fields["ends_on"])
    if not errors:
        existing = Grant.objects.filter(creator=world.alice, organization=organization, revoked_at__isnull=True)
        if existing.exists():  # "…已有生效中/待生效的授权，可提前续约或解除授权。" or "…授权已到期，请使用续约。"
            errors.append(("organization", "该商家/机构"))
        elif error := period_error(starts, ends):
            errors.append(error)

    with rolled_back():
        before = counts()
        response = post(client, reverse("grants:authorize"), fields, htmx)
        if errors:
            assert_refused(response, htmx, errors, before)
        else:
            assert_done(response, htmx, before, {"Grant": 1, "GrantEvent": 1})
            grant = Grant.objects.order_by("-pk").first()
            assert (grant.creator, grant.organization, grant.starts_on, grant.ends_on) == (
                world.alice,
                organization,
                starts,
                ends,
            )
            assert grant.events.get().operation == "authorize"


GRANT_CHOICES = st.sampled_from(["active", "scheduled", "expired", "revoked", "foreign", "absent", "huge"])


def grant_url(world: World, name: str, choice: str, huge: int) -> tuple[str, Grant | None]:
    if choice == "absent":
        return reverse(name, args=[absent_pk(Grant)]), None
    if choice == "huge":
        return path_with_id(name, huge), None
    grant = world.grants[choice]
    return reverse(name, args=[grant.pk]), (None if choice == "foreign" else grant)


@fuzz(40)
@given(
    choice=GRANT_CHOICES,
    huge=HUGE_INTS,
    ends_on=date_values(),
    next_url=NEXT_VALUES,
    extra=EXTRA_FIELDS,
    htmx=HTMX,
)
def test_renew_early_post_refuses_bad_input(client, world, choice, huge, ends_on, next_url, extra, htmx):
    client.force_login(world.alice.user)
    url, grant = grant_url(world, "grants:renew_early", choice, huge)
    with rolled_back():
        before = counts()
        response = post(client, url, {"ends_on": ends_on, "next": next_url, **extra}, htmx)
        if grant is None:  # another creator's grant is as absent as a missing one
            assert_not_found(response, before)
            return
        ends = parse_date(ends_on)
        if errors := field_errors(ends_on=ends_on):
            assert_refused(response, htmx, errors, before)
        elif grant.status not in ("scheduled", "active"):
            assert_refused(response, htmx, [(None, "只能对待生效或生效中的授权提前续约")], before)
        elif ends <= grant.ends_on:
            assert_refused(response, htmx, [("ends_on", "新的截止日期必须晚于当前截止日期")], before)
        else:
            assert_done(response, htmx, before, {"GrantEvent": 1})
            renewed = Grant.objects.get(pk=grant.pk)
            assert (renewed.starts_on, renewed.ends_on) == (grant.starts_on, ends)


@fuzz(40)
@given(
    choice=GRANT_CHOICES,
    huge=HUGE_INTS,
    starts_on=st.one_of(st.just(today().isoformat()), date_values()),
    ends_on=date_values(),
    next_url=NEXT_VALUES,
    extra=EXTRA_FIELDS,
    htmx=HTMX,
)
def test_renew_post_refuses_bad_input(client, world, choice, huge, starts_on, ends_on, next_url, extra, htmx):
    client.force_login(world.alice.user)
    url, grant = grant_url(world, "grants:renew", choice, huge)
    with rolled_back():
        before = counts()
        response = post(client, url, {"starts_on": starts_on, "ends_on": ends_on, "next": next_url, **extra}, htmx)
        if grant is None:
            assert_not_found(response, before)
            return
        starts, ends = parse_date(starts_on), parse_date(ends_on)
        if errors := field_errors(starts_on=starts_on, ends_on=ends_on):
            assert_refused(response, htmx, errors, before)
        elif grant.status != "expired":
            assert_refused(response, htmx, [(None, "只能对已到期的授权续约")], before)
        elif error := period_error(starts, ends):
            assert_refused(response, htmx, [error], before)
        else:
            assert_done(response, htmx, before, {"GrantEvent": 1})
            renewed = Grant.objects.get(pk=grant.pk)
            assert (renewed.starts_on, renewed.ends_on, renewed.revoked_at) == (starts, ends, None)


@fuzz(25)
@given(choice=GRANT_CHOICES, huge=HUGE_INTS, next_url=NEXT_VALUES, extra=EXTRA_FIELDS, htmx=HTMX)
def test_revoke_post_refuses_bad_input(client, world, choice, huge, next_url, extra, htmx):
    client.force_login(world.alice.user)
    url, grant = grant_url(world, "grants:revoke", choice, huge)
    with rolled_back():
        before = counts()
        response = post(client, url, {"next": next_url, **extra}, htmx)
        if grant is None:
            assert_not_found(response, before)
        elif grant.status in ("scheduled", "active"):
            assert_done(response, htmx, before, {"GrantEvent": 1})
            assert Grant.objects.get(pk=grant.pk).status == "revoked"
        else:
            assert_refused(response, htmx, [(None, "只能解除待生效或生效中的授权")], before)


# Who may not post to alice's objects, and what they get: 403 for a party that may never use the
# form (an organization's account at a creator's form, a creator at an organization's), 404 for one
# who may use the form but not see this object (another creator: the grant is not theirs to know of).
CROSS_PARTY = {
    "grant": {"main": 403, "staff": 403, "bob": 404, "carol": 404},
    "request": {"main": 403, "staff": 403, "bob": 404, "carol": 404},
    "unlock": {"alice": 403, "bob": 404, "carol": 404, "main": 403},  # main: the modules are open to it
}


@fuzz(25)
@given(
    target=st.sampled_from(
        [("grant", name) for name in ("grants:revoke", "grants:renew_early", "grants:renew")]
        + [("request", f"grants:{verb}_request") for verb in ("approve", "decline", "revoke")]
        + [("unlock", "livestreams:unlock")]
    ),
    who=st.sampled_from(["alice", "main", "staff", "bob", "carol"]),
    choice=st.sampled_from(["active", "scheduled", "expired", "revoked", "pending", "approved", "declined", "free"]),
    fields=st.fixed_dictionaries(
        {"starts_on": date_values(), "ends_on": date_values()}, optional={"next": NEXT_VALUES}
    ),
)
def test_other_parties_are_refused_whatever_they_post(client, world, target, who, choice, fields):
    kind, name = target
    status = CROSS_PARTY[kind].get(who)
    assume(status is not None)
    user = {"alice": world.alice.user, "main": world.main, "staff": world.staff}
    client.force_login(user[who] if who in user else getattr(world, who).user)
    pool = {"grant": world.grants, "request": world.requests, "unlock": world.streams}[kind]
    obj = pool.get(choice) or next(iter(pool.values()))
    assume(kind != "unlock" or obj.creator == world.alice)
    with rolled_back():
        before = counts()
        response = post(client, reverse(name, args=[obj.pk]), fields)
        assert response.status_code == status
        assert delta(before, counts()) == {}


# --- single-livestream requests -----------------------------------------------------------------


def stream_url(world: World, choice: str, huge: int) -> str:
    if choice == "absent":
        return reverse("livestreams:unlock", args=[absent_pk(Livestream)])
    if choice == "huge":
        return path_with_id("livestreams:unlock", huge)
    return reverse("livestreams:unlock", args=[world.streams[choice].pk])


@fuzz(30)
@given(
    choice=st.sampled_from(["free", "pending", "approved", "declined", "not_cooperated", "foreign", "absent", "huge"]),
    huge=HUGE_INTS,
    extra=st.dictionaries(st.sampled_from(["organization", "livestream", "status", "requested_by"]), garbage()),
    htmx=st.sampled_from(["plain", "htmx"]),
)
def test_unlock_request_post_refuses_bad_input(client, world, choice, huge, extra, htmx):
    """A sub-account asks to unlock: tampered fields change nothing; a new request only where none is open."""
    client.force_login(world.staff)
    with rolled_back():
        before = counts()
        response = post(client, stream_url(world, choice, huge), extra, htmx)
        if choice in ("not_cooperated", "absent", "huge"):
            assert_not_found(response, before)
            return
        if choice == "approved":  # the modules are already open to the organization: the service says so
            assert response.status_code == (422 if htmx == "plain" else 200)
            assert "该直播间数据已授权，无需再次申请。" in text_of(response)
            assert delta(before, counts()) == {}
            return
        opened = choice in ("free", "declined")
        assert delta(before, counts()) == ({"LivestreamAccessRequest": 1, "LivestreamAccessEvent": 1} if opened else {})
        if htmx == "plain":
            assert response.status_code == 302
            assert is_safe_location(response)
            shown = " ".join(str(m) for m in get_messages(response.wsgi_request))
        else:
            assert response.status_code == 200
            assert "close-dialog" in response.get("HX-Trigger", "")
            shown = text_of(response)
        assert "已提交申请" in shown
        open_request = LivestreamAccessRequest.objects.filter(livestream=world.streams[choice], status="pending").get()
        assert open_request.organization == world.shop  # the actor's organization, whatever was posted


REQUEST_CHOICES = st.sampled_from(["pending", "approved", "declined", "foreign", "absent", "huge"])


@fuzz(40)
@given(
    action=st.sampled_from(["approve", "decline", "revoke"]),
    choice=REQUEST_CHOICES,
    huge=HUGE_INTS,
    next_url=NEXT_VALUES,
    extra=st.dictionaries(st.sampled_from(["status", "organization", "decided_by", "request"]), garbage()),
    htmx=st.sampled_from(["plain", "htmx"]),
)
def test_request_decisions_refuse_bad_input(client, world, action, choice, huge, next_url, extra, htmx):
    client.force_login(world.alice.user)
    if choice == "absent":
        pk = absent_pk(LivestreamAccessRequest)
    elif choice == "huge":
        pk = huge
    else:
        pk = world.requests[choice].pk
    with rolled_back():
        before = counts()
        response = post(client, path_with_id(f"grants:{action}_request", pk), {"next": next_url, **extra}, htmx)
        if choice in ("foreign", "absent", "huge"):
            assert_not_found(response, before)
            return
        status = world.requests[choice].status
        allowed = status == "approved" if action == "revoke" else status == "pending"
        if htmx == "plain":
            assert response.status_code == 302
            assert is_safe_location(response), response["Location"]
            shown = " ".join(str(m) for m in get_messages(response.wsgi_request))
        else:
            assert response.status_code == 200
            shown = text_of(response)
        if allowed:
            assert delta(before, counts()) == {"LivestreamAccessEvent": 1}
            expected = {"approve": "approved", "decline": "declined", "revoke": "revoked"}[action]
            assert LivestreamAccessRequest.objects.get(pk=pk).status == expected
            assert {"approve": "已授权「", "decline": "已拒绝「", "revoke": "已解除「"}[action] in shown
        else:
            assert delta(before, counts()) == {}
            assert ("只能解除已授权的申请" if action == "revoke" else "只能处理待审批的申请") in shown


# --- perspective switch ------------------------------------------------------------------------------


@fuzz(40)
@given(
    who=st.sampled_from(["main", "main", "main", "staff", "alice"]),
    value=st.one_of(
        st.sampled_from(["alice", "bob", "carol", "absent", MISSING, ""]),
        HUGE_INTS.map(str),
        garbage(),
    ),
)
def test_perspective_switch_refuses_bad_input(client, world, who, value):
    """The main account of ``shop`` holds active grants from alice and bob, none from carol."""
    user = {"main": world.main, "staff": world.staff, "alice": world.alice.user}[who]
    client.force_login(user)
    named = {"alice": world.alice.pk, "bob": world.bob.pk, "carol": world.carol.pk, "absent": absent_pk(Creator)}
    if value in named:
        value = str(named[value])
    chosen = int(value) if value.isascii() and value.isdigit() and len(value) <= 18 else None
    with rolled_back():
        before = counts()
        response = post(client, reverse("grants:switch_perspective"), {"creator": value})
        assert delta(before, counts()) == {}
        if who != "main":
            assert response.status_code == 403
            return
        if value in (MISSING, ""):
            assert response.status_code == 302
            assert response["Location"] == reverse("grants:org_home")
            assert SESSION_KEY not in client.session
        elif chosen in (world.alice.pk, world.bob.pk):
            assert response.status_code == 302
            assert response["Location"] == reverse("livestreams:creator_overview", args=[chosen])
            assert client.session[SESSION_KEY] == chosen
        else:
            assert response.status_code == 404
            assert SESSION_KEY not in client.session


# --- the creator data range parameters, list filters and searches (GET) ---------------------------


def range_error(params: dict) -> bool:
    """Whether the range form refuses ``params`` (the pages then show the default range and say why)."""
    choice = params.get("range", MISSING)
    if choice not in (MISSING, "", "7", "30", "90"):
        return True
    dates = []
    for key in ("start", "end"):
        value = params.get(key, MISSING)
        if value in (MISSING, ""):
            dates.append(None)
            continue
        parsed = parse_date(value)
        if parsed == INVALID:
            return True
        dates.append(parsed)
    start, end = dates
    if start is None and end is None:
        return False
    if start is None or end is None or end < start:
        return True
    if start < datetime.date(2000, 1, 1) or end > datetime.date(2100, 12, 31):
        return True
    return (end - start).days + 1 > 366


RANGE_DATES = st.one_of(
    st.dates(datetime.date(2000, 1, 1), datetime.date(2030, 12, 31)).map(datetime.date.isoformat), date_values()
)


@fuzz(45)
@given(
    page=st.sampled_from(
        ["livestreams:creator_overview", "livestreams:creator_livestreams", "livestreams:creator_export"]
    ),
    params=st.fixed_dictionaries(
        {},
        optional={
            "range": st.one_of(st.sampled_from(["7", "30", "90", "", "365", "0", "-7"]), garbage()),
            "start": RANGE_DATES,
            "end": RANGE_DATES,
            "sort": st.one_of(st.sampled_from(["gmv", "orders", "peak_online", "-gmv", "pk"]), garbage()),
            "page": st.one_of(HUGE_INTS.map(str), st.sampled_from(["0", "-1", "2"]), garbage()),
        },
    ),
    viewer=st.sampled_from(["alice", "main"]),
)
def test_creator_data_range_parameters_never_fail(client, world, page, params, viewer):
    params = {key: value for key, value in params.items() if value != MISSING}
    refused = range_error(params)
    client.force_login(world.alice.user if viewer == "alice" else world.main)
    with rolled_back():
        before = counts()
        response = client.get(reverse(page, args=[world.alice.pk]), params)
        body = text_of(response)
        assert response.status_code == 200
        assert delta(before, counts()) == {}
        if page == "livestreams:creator_export":
            assert response["Content-Type"].startswith("text/csv")
        else:
            assert ('class="form-errors" role="alert"' in body) == refused


SEARCH_PAGES = {
    "grants:organization_search": "alice",
    "grants:authorize": "alice",
    "grants:creator_grants": "alice",
    "grants:creator_requests": "alice",
    "grants:org_home": "main",
    "livestreams:org_livestreams": "staff",
}


@fuzz(35)
@given(
    name=st.sampled_from(sorted(SEARCH_PAGES)),
    params=st.fixed_dictionaries(
        {},
        optional={
            "q": garbage(),
            "status": st.one_of(st.sampled_from(["active", "expired", "pending", "all", "ACTIVE"]), garbage()),
            "page": st.one_of(HUGE_INTS.map(str), garbage()),
            "organization": st.one_of(HUGE_INTS.map(str), garbage()),
            "starts_on": date_values(),
            "ends_on": date_values(),
        },
    ),
    htmx=st.booleans(),
)
def test_list_filters_and_searches_never_fail(client, world, name, params, htmx):
    who = SEARCH_PAGES[name]
    client.force_login({"alice": world.alice.user, "main": world.main, "staff": world.staff}[who])
    with rolled_back():
        before = counts()
        response = client.get(reverse(name), params, **({"HTTP_HX_REQUEST": "true"} if htmx else {}))
        text_of(response)
        assert response.status_code == 200
        assert delta(before, counts()) == {}


# --- login and language switch -------------------------------------------------------------------


@fuzz(30)
@given(
    username=st.one_of(st.sampled_from(["alice", " alice ", "ALICE", MISSING]), garbage()),
    password=st.one_of(st.sampled_from([DEMO_PASSWORD, DEMO_PASSWORD + " ", MISSING]), garbage()),
    next_url=NEXT_VALUES,
)
def test_login_refuses_bad_input(world, username, password, next_url):
    client = Client()
    with rolled_back():
        before = counts()
        url = reverse("login")
        response = post(client, url, {"username": username, "password": password, "next": next_url}, csrf=False)
        assert delta(before, counts()) == {}
        if username.strip() == "alice" and password == DEMO_PASSWORD:
            assert response.status_code == 302
            assert is_safe_location(response), response["Location"]
            return
        assert response.status_code == 200
        body = text_of(response)
        assert re.search(r'class="errorlist', body), "no error shown"
        name = unicodedata.normalize("NFKC", username.strip()) if username != MISSING else ""
        if name and password not in (MISSING, "") and "\x00" not in username + password and len(name) <= 150:
            assert "用户名或密码不正确" in body


@fuzz(25)
@given(
    language=st.one_of(st.sampled_from(["en", "zh-hans", "EN", "zh-Hans", "fr", "en-us", "zh", MISSING]), garbage()),
    next_url=NEXT_VALUES,
    logged_in=st.booleans(),
)
def test_language_switch_refuses_bad_input(world, language, next_url, logged_in):
    client = Client()
    if logged_in:
        client.force_login(world.alice.user)
    with rolled_back():
        before = counts()
        response = post(client, reverse("set_language"), {"language": language, "next": next_url})
        assert delta(before, counts()) == {}
        assert response.status_code == 302
        assert is_safe_location(response), response["Location"]
        cookie = response.cookies.get(django_settings.LANGUAGE_COOKIE_NAME)
        supported = {code for code, _name in django_settings.LANGUAGES}
        if language in supported:
            assert cookie.value == language
        # Whatever the cookie now holds, the next page is in a supported language.
        page = client.get(reverse("login"), follow=True)
        served = re.search(r'<html lang="([^"]+)"', text_of(page)).group(1)
        assert page.status_code in (200, 302)
        assert served == (language if language in supported else "zh-hans")


# --- malformed ids in URLs -------------------------------------------------------------------------

ID_ROUTES = [route for route in all_routes() if route.params]
ROLES = ("alice", "main", "staff")


def _user(world: World, role: str):
    return {"alice": world.alice.user, "main": world.main, "staff": world.staff}[role]


def test_every_route_with_an_id_is_fuzzed():
    assert {route.name for route in ID_ROUTES} >= {
        "grants:grant_detail",
        "grants:revoke",
        "grants:renew_early",
        "grants:renew",
        "grants:approve_request",
        "grants:decline_request",
        "grants:revoke_request",
        "livestreams:creator_overview",
        "livestreams:creator_livestreams",
        "livestreams:creator_export",
        "livestreams:detail",
        "livestreams:unlock",
        "livestreams:big_screen",
        "livestreams:traffic",
        "livestreams:audience",
    }
    assert all(len(route.params) == 1 for route in ID_ROUTES)


def _path(route, segment: str) -> str:
    return "/" + re.sub(r"<[^>]+>", segment, route.pattern)


def test_malformed_ids_are_404_from_the_resolver(client, db):
    client.force_login(CreatorFactory().user)
    for path in [
        "/grants/abc/revoke/",
        "/grants/-1/",
        "/grants/1.5/",
        "/grants/１/",
        "/livestreams/0x1/",
        "/creators/%20/",
    ]:
        assert client.get(path).status_code == 404, path
        assert client.post(path).status_code == 404, path


@fuzz(35)
@given(
    route=st.sampled_from(ID_ROUTES),
    segment=st.text(min_size=1, max_size=30).filter(lambda s: not s.isascii() or not s.isdigit()),
    role=st.sampled_from(ROLES),
    method=st.sampled_from(["get", "post"]),
)
def test_garbage_ids_in_urls_are_404(client, world, route, segment, role, method):
    path = _path(route, quote(segment, safe=""))
    try:
        resolve(unquote(path))
    except Resolver404:
        pass
    else:
        assume(False)  # e.g. "new" in /grants/<id>/: a real page, not a malformed id
    client.force_login(_user(world, role))
    with rolled_back():
        before = counts()
        assert getattr(client, method)(path).status_code == 404
        assert delta(before, counts()) == {}


@fuzz(50)
@given(
    route=st.sampled_from(ID_ROUTES),
    number=HUGE_INTS,
    role=st.sampled_from(ROLES),
    method=st.sampled_from(["get", "post"]),
)
def test_huge_ids_in_urls_are_404_not_500(client, world, route, number, role, method):
    client.force_login(_user(world, role))
    path = _path(route, str(number))
    with rolled_back():
        before = counts()
        response = getattr(client, method)(path)
        text_of(response)
        assert delta(before, counts()) == {}
    # 404 for the object; a role that may never use the page is refused first (403), and a
    # method the page does not take is 405 before any lookup.
    assert response.status_code in (403, 404, 405), (path, response.status_code)
    if role == "alice" and response.status_code != 405:
        assert response.status_code == 404, path


def test_the_issue_example_huge_grant_id_is_404(client, world):
    client.force_login(world.alice.user)
    assert client.get("/grants/99999999999999999999/").status_code == 404
    assert client.post("/grants/99999999999999999999/revoke/").status_code == 404
    assert client.get(f"/grants/{2**63}/").status_code == 404
    assert client.get(f"/grants/{2**63 - 1}/").status_code == 404


# --- bugs found (fixed; each test pins one) ---------------------------------------------------------

# Characters that are digits to str.isdigit() but not to int(): '²', '①', '⑴' ...
NON_DECIMAL_DIGITS = [chr(c) for c in range(0x10000) if chr(c).isdigit() and not chr(c).isdecimal()]
BAD_DIGITS = st.text(alphabet=st.sampled_from(NON_DECIMAL_DIGITS), min_size=1, max_size=5) | st.just("1" * 4301)


@fuzz(5)
@given(value=BAD_DIGITS, form=st.sampled_from(["perspective", "authorize-get", "authorize-post"]))
def test_digit_like_ids_are_refused_not_500(client, world, value, form):
    with rolled_back():
        before = counts()
        if form == "perspective":
            client.force_login(world.main)
            assert post(client, reverse("grants:switch_perspective"), {"creator": value}).status_code == 404
        elif form == "authorize-get":
            client.force_login(world.alice.user)
            assert client.get(reverse("grants:authorize"), {"organization": value}).status_code == 200
        else:
            client.force_login(world.alice.user)
            fields = {"organization": value, "starts_on": today().isoformat(), "ends_on": today().isoformat()}
            response = post(client, reverse("grants:authorize"), fields)
            assert_refused(response, "plain", [("organization", "所选商家/机构不存在。")], before)
        assert delta(before, counts()) == {}


@fuzz(5)
@given(number=st.integers(min_value=2**63, max_value=10**30))
def test_huge_creator_id_is_404_not_500_on_sqlite(client, world, number):
    client.force_login(world.main)
    with rolled_back():
        for name in ("livestreams:creator_overview", "livestreams:creator_livestreams", "livestreams:creator_export"):
            assert client.get(path_with_id(name, number)).status_code == 404
        assert post(client, reverse("grants:switch_perspective"), {"creator": str(number)}).status_code == 404


def test_search_with_nul_byte_is_answered_not_500(client, world):
    for name in ("grants:organization_search", "grants:authorize", "grants:creator_grants", "grants:org_home"):
        client.force_login(world.main if name == "grants:org_home" else world.alice.user)
        with rolled_back():
            response = client.get(reverse(name), {"q": "一号\x00店"})
            assert response.status_code in (200, 400), name


@pytest.mark.parametrize(
    ("name", "start", "end"),
    [
        ("livestreams:creator_overview", "0001-01-01", "0001-01-10"),
        ("livestreams:creator_overview", "9999-12-01", "9999-12-31"),
        ("livestreams:creator_livestreams", "9999-12-01", "9999-12-31"),
        ("livestreams:creator_export", "9999-12-01", "9999-12-31"),
    ],
)
def test_creator_data_range_at_the_calendar_edges_is_refused_not_500(client, db, name, start, end):
    creator = CreatorFactory()
    client.force_login(creator.user)
    with rolled_back():
        response = client.get(reverse(name, args=[creator.pk]), {"start": start, "end": end})
        text_of(response)
        assert response.status_code == 200


@pytest.mark.parametrize("operation", ["authorize", "renew", "renew_early"])
def test_end_date_9999_12_31_does_not_break_the_grant(client, world, operation):
    client.force_login(world.alice.user)
    fields = {"starts_on": today().isoformat(), "ends_on": "9999-12-31"}
    with rolled_back():
        if operation == "authorize":
            post(client, reverse("grants:authorize"), {**fields, "organization": world.free_orgs[0].pk})
            grant = Grant.objects.filter(creator=world.alice, organization=world.free_orgs[0]).first()
            if grant is None:
                return  # refused: fine
        else:
            grant = world.grants["expired" if operation == "renew" else "active"]
            post(client, reverse(f"grants:{operation}", args=[grant.pk]), fields)
        grant.refresh_from_db()
        if grant.ends_on != datetime.date(9999, 12, 31):
            return  # refused: fine
        assert client.get(reverse("grants:creator_grants")).status_code == 200
        assert client.get(reverse("grants:renew_early", args=[grant.pk])).status_code == 200


@pytest.mark.parametrize(("name", "choice"), [("grants:renew_early", "active"), ("grants:renew", "expired")])
def test_empty_post_to_renewal_forms_says_what_is_missing(client, world, name, choice):
    """A POST with an empty body (an hx-post carrying only the X-CSRFToken header) is a form with
    every field missing: 422 and the required-field message, like /grants/new/."""
    client.force_login(world.alice.user)
    with rolled_back():
        before = counts()
        response = post(client, reverse(name, args=[world.grants[choice].pk]), {}, csrf=False)
        assert_refused(response, "plain", [("ends_on", MSG_REQUIRED_DATE)], before)


# One per redirecting helper: _after_action (grant operations) and _decide_request (requests, also
# when the decision is refused).
NEXT_ROUTES = [
    ("grants:authorize", None),
    ("grants:renew_early", "active"),
    ("grants:approve_request", "pending"),
    ("grants:approve_request", "approved"),  # refused: redirects back with a message all the same
]


@pytest.mark.parametrize(("name", "choice"), NEXT_ROUTES)
@pytest.mark.parametrize("next_url", ["abc"])
def test_next_without_slash_or_dot_does_not_crash_the_redirect(client, world, name, choice, next_url):
    client.force_login(world.alice.user)
    fields = {
        "next": next_url,
        "starts_on": today().isoformat(),
        "ends_on": (today() + datetime.timedelta(days=400)).isoformat(),
    }
    if choice is None:
        url, fields["organization"] = reverse(name), world.free_orgs[0].pk
    elif name.endswith("_request"):
        url = reverse(name, args=[world.requests[choice].pk])
    else:
        url = reverse(name, args=[world.grants[choice].pk])
    with rolled_back():
        response = post(client, url, fields)
        assert response.status_code == 302
        assert is_safe_location(response)


# --- the import command -------------------------------------------------------------------------

IMPORT_MODELS = (Livestream, ProductSale, Cooperation, MinutePoint, Funnel, TrafficSources, Audience)


def import_counts() -> dict[str, int]:
    return table_counts(IMPORT_MODELS)


@dataclass
class ImportWorld:
    creator: Creator
    shop: Organization
    agency: Organization
    existing: Livestream


@pytest.fixture
def import_world(db) -> ImportWorld:
    """The creator and shops the records name (the test's django_db marker decides transactional or not)."""
    creator = CreatorFactory(douyin_id="dy_fuzz")
    shop, agency = ShopFactory(code="shop-fuzz"), AgencyFactory(code="agency-fuzz")
    existing = LivestreamFactory(creator=creator, cooperating=[shop], external_id="existing-1", minutes=5)
    return ImportWorld(creator, shop, agency, existing)


def valid_record(external_id: str) -> dict:
    return {
        "external_id": external_id,
        "creator": "dy_fuzz",
        "title": "双十一返场 · 美妆专场",
        "started_at": "2026-11-01T19:00:00+08:00",
        "ended_at": "2026-11-01T21:00:00+08:00",
        "totals": {"viewers": 12345, "peak_online": 820, "avg_watch_seconds": 95, "new_followers": 152},
        "products": [
            {
                "shop": "shop-fuzz",
                "sku": "P-1",
                "name": "保湿精华",
                "price": "99.00",
                "units": 12,
                "orders": 11,
                "gmv": "1188.00",
            },
            {
                "shop": "shop-fuzz",
                "sku": "P-2",
                "name": "面霜",
                "price": "59.90",
                "units": 3,
                "orders": 3,
                "gmv": "179.70",
            },
        ],
        "minutes": [
            {"at": "2026-11-01T19:00:00+08:00", "online": 120, "entries": 30, "gmv": "120.00", "orders": 1},
            {"at": "2026-11-01T19:01:00+08:00", "online": 150, "entries": 40, "gmv": "0.00", "orders": 0},
            {"at": "2026-11-01T20:59:00+08:00", "online": 90, "entries": 10, "gmv": "1247.70", "orders": 13},
        ],
        "funnel": {
            "impressions": 100000,
            "entries": 12000,
            "product_impressions": 8000,
            "product_clicks": 1200,
            "orders": 14,
        },
        "sources": {"feed": 6200, "follow": 2100, "search": 700, "video": 1700, "paid": 900, "other": 200},
        "audience": {
            "gender": {"female": 0.63, "male": 0.37},
            "age": {"18-23": 0.12, "24-30": 0.38, "31-40": 0.31, "41-50": 0.13, "50+": 0.06},
            "provinces": {"广东": 0.18, "浙江": 0.11},
            "cities": {"深圳": 0.07},
            "new_vs_returning": {"new": 0.7, "returning": 0.3},
        },
    }


# Object keys of any text (control characters are escaped in the messages).
KEYS = st.text(alphabet=st.characters(codec="utf-8"), max_size=8)
JSON_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(KEYS, children, max_size=4),
    max_leaves=12,
)
NOT_A_STRING = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.lists(JSON_SCALARS, max_size=2)
)


def bad_count(maximum: int) -> st.SearchStrategy:
    return st.one_of(
        st.integers(max_value=-1),
        st.integers(min_value=maximum + 1),
        st.floats(allow_nan=False),  # 1.0 is not a count either
        st.booleans(),
        st.none(),
        st.text(max_size=5),
        st.lists(st.integers(), max_size=2),
    )


BAD_MONEY = st.one_of(
    NOT_A_STRING,
    st.sampled_from(
        ["", " ", "1.234", "-1.00", "1e3", "NaN", "Infinity", "1,000.00", "¥10", "1.", ".5", "0x10", "1" * 20]
    ),
    st.decimals(min_value=Decimal("-1e6"), max_value=Decimal("-0.01"), places=2).map(str),
)
BAD_TEXT = st.one_of(
    NOT_A_STRING, st.sampled_from(["", " ", "\t"]), st.text(min_size=1, max_size=3).map(lambda s: "x" + s * 300)
)
BAD_DATETIME = st.one_of(
    NOT_A_STRING,
    st.sampled_from(
        [
            "",
            "2026-11-01",
            "2026-11-01T19:00:00",  # naive
            "2026-11-01 19:00",
            "2026-02-30T19:00:00+08:00",
            "2026-11-01T25:00:00+08:00",
            "2026-11-01T19:00:00+25:00",
            "yesterday",
            "1730458800",
        ]
    ),
    st.datetimes().map(datetime.datetime.isoformat),  # naive
    st.datetimes(timezones=st.timezones()).map(datetime.datetime.isoformat),  # any year, any offset
)
BAD_SHARE = st.one_of(
    st.floats(min_value=1.0001, allow_infinity=True),
    st.floats(max_value=-0.0001, allow_infinity=True),
    st.just(float("nan")),
    st.booleans(),
    st.none(),
    st.text(max_size=4),
    st.integers(min_value=2),
)
BAD_CODE = st.one_of(NOT_A_STRING, st.sampled_from(["", "unknown-shop", "agency-fuzz", "SHOP-FUZZ", " shop-fuzz"]))
BAD_CREATOR = st.one_of(NOT_A_STRING, st.sampled_from(["", "dy_unknown", "DY_FUZZ", " dy_fuzz"]))

# Every leaf of a record, with values that break its rule whatever the rest of the record holds.
LEAVES: dict[tuple, st.SearchStrategy] = {
    ("external_id",): BAD_TEXT,
    ("creator",): BAD_CREATOR,
    ("title",): BAD_TEXT,
    ("started_at",): BAD_DATETIME,
    ("ended_at",): st.one_of(BAD_DATETIME.filter(lambda v: v is not None), st.just("2026-11-01T18:59:59+08:00")),
    **{
        ("totals", key): bad_count(2**31 - 1 if key != "viewers" else 2**63 - 1)
        for key in ("viewers", "peak_online", "avg_watch_seconds", "new_followers")
    },
    ("products",): st.one_of(
        st.none(), st.text(max_size=5), st.integers(), st.dictionaries(st.text(max_size=3), JSON_SCALARS, min_size=1)
    ),
    ("products", 0, "shop"): BAD_CODE,
    ("products", 1, "sku"): st.one_of(BAD_TEXT, st.just("P-1")),  # "P-1": a duplicate of products[0]
    ("products", 0, "name"): BAD_TEXT,
    ("products", 1, "price"): BAD_MONEY,
    ("products", 0, "gmv"): st.one_of(BAD_MONEY, st.just("1" * 13 + ".00")),
    ("products", 1, "units"): bad_count(2**31 - 1),
    ("products", 0, "orders"): bad_count(2**31 - 1),
    ("minutes",): st.one_of(
        st.none(), st.text(max_size=5), st.integers(), st.dictionaries(st.text(max_size=3), JSON_SCALARS, min_size=1)
    ),
    ("minutes", 1, "at"): st.one_of(
        BAD_DATETIME,
        st.sampled_from(["2026-11-01T18:59:00+08:00", "2026-11-01T21:00:01+08:00", "2026-11-01T19:00:00+08:00"]),
    ),
    ("minutes", 2, "online"): bad_count(2**31 - 1),
    ("minutes", 0, "entries"): bad_count(2**31 - 1),
    ("minutes", 2, "gmv"): BAD_MONEY,
    ("minutes", 0, "orders"): bad_count(2**31 - 1),
    **{
        ("funnel", key): bad_count(2**63 - 1)
        for key in ("impressions", "entries", "product_impressions", "product_clicks", "orders")
    },
    **{("sources", key): bad_count(2**63 - 1) for key in ("feed", "follow", "search", "video", "paid", "other")},
    ("audience", "gender", "female"): st.one_of(BAD_SHARE, st.just(0.9)),  # 0.9 + 0.37: does not sum to 1
    ("audience", "age", "50+"): st.one_of(BAD_SHARE, st.just(0.5)),
    ("audience", "provinces"): st.one_of(
        NOT_A_STRING.filter(lambda v: not isinstance(v, dict)),
        st.dictionaries(KEYS.filter(bool), BAD_SHARE, min_size=1),
        st.just({"广东": 0.7, "浙江": 0.6}),
        st.just({" ": 0.1}),
    ),
    ("audience", "cities"): st.one_of(st.just({"深圳": 1.5}), st.just([])),
    ("audience", "new_vs_returning", "new"): BAD_SHARE,
}
# Objects whose keys are fixed: a missing key or an unknown one breaks the record.
OBJECTS = [(), ("totals",), ("products", 0), ("minutes", 1), ("funnel",), ("sources",), ("audience",),
           ("audience", "gender"), ("audience", "age"), ("audience", "new_vs_returning")]  # fmt: skip


def _at(record, path):
    for key in path:
        record = record[key]
    return record


@st.composite
def broken_records(draw) -> dict:
    record = valid_record(draw(st.sampled_from([f"fuzz-{uuid.uuid4()}", "existing-1"])))
    how = draw(st.sampled_from(["leaf", "leaf", "leaf", "drop", "extra"]))
    if how == "leaf":
        path = draw(st.sampled_from(sorted(LEAVES, key=str)))
        _at(record, path[:-1])[path[-1]] = draw(LEAVES[path])
    else:
        path = draw(st.sampled_from(OBJECTS))
        target = _at(record, path)
        if how == "drop":
            del target[draw(st.sampled_from(sorted(target)))]
        else:
            key = draw(KEYS.filter(lambda k: k not in target))
            target[key] = draw(JSON_SCALARS)
    return record


def _dump(value) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


BROKEN_LINES = st.one_of(
    broken_records().map(_dump),
    st.fixed_dictionaries(dict.fromkeys(valid_record("x"), JSON_VALUES)).map(_dump),  # every key, random values
    JSON_VALUES.map(_dump),  # any JSON at all: not an object, or an object without the keys
    st.text(min_size=1, max_size=60).map(lambda s: s.encode("utf-8")),  # not JSON
    st.binary(min_size=1, max_size=60),  # not even UTF-8
    st.sampled_from([b"{", b"[]", b"null", b'"\\u0000"', b"\xef\xbb\xbf{}", b"{}" * 2, b"NaN", b"1e999999"]),
).filter(lambda line: b"\n" not in line and line.strip())


def run_import(tmp_path, lines: list[bytes]):
    path = tmp_path / f"{uuid.uuid4()}.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    out, err = io.StringIO(), io.StringIO()
    returncode = 0
    try:
        call_command("import_livestreams", str(path), stdout=out, stderr=err)
    except CommandError as error:
        returncode = error.returncode
    return returncode, out.getvalue(), err.getvalue()


def snapshot(livestream: Livestream) -> tuple:
    fresh = Livestream.objects.get(pk=livestream.pk)
    return (
        fresh.title,
        fresh.started_at,
        fresh.ended_at,
        fresh.gmv,
        fresh.viewers,
        fresh.updated_at,
        list(fresh.minutes.order_by("at").values_list("at", "online")),
        list(fresh.products.order_by("pk").values_list("sku", "gmv")),
    )


@pytest.mark.django_db(transaction=True)  # the command runs in autocommit, as in production
@fuzz(40)
@given(
    lines=st.lists(
        st.tuples(st.sampled_from(["broken", "broken", "broken", "blank"]), BROKEN_LINES), min_size=1, max_size=6
    ),
    good_at=st.one_of(st.none(), st.integers(min_value=0, max_value=6)),
)
def test_import_rejects_generated_broken_lines(import_world, tmp_path, lines, good_at):
    entries = [(kind, b"  " if kind == "blank" else line) for kind, line in lines]
    good_id = f"good-{uuid.uuid4()}"
    if good_at is not None:
        entries.insert(min(good_at, len(entries)), ("good", _dump(valid_record(good_id))))
    broken = [number for number, (kind, _line) in enumerate(entries, start=1) if kind == "broken"]
    assume(broken)
    before, existing = import_counts(), snapshot(import_world.existing)

    returncode, out, err = run_import(tmp_path, [line for _kind, line in entries])

    messages = [line for line in err.split("\n") if line.strip()]  # a terminal's lines
    numbers = [re.match(r"line (\d+): ", m) for m in messages]
    assert [int(n.group(1)) if n else m for n, m in zip(numbers, messages, strict=True)] == broken, err
    for message in messages:
        assert re.fullmatch(r"line \d+: .*: .+", message), message
        message.encode("utf-8")  # printable on a UTF-8 terminal
    good = int(good_at is not None)
    assert out.strip() == f"created {good}, updated 0, rejected {len(broken)}"
    assert returncode == 1
    after = import_counts()
    assert after["Livestream"] - before["Livestream"] == good
    if not good:
        assert after == before
    else:
        assert Livestream.objects.filter(external_id=good_id).exists()
    assert snapshot(import_world.existing) == existing, "a broken line touched the existing livestream"


@pytest.mark.parametrize(
    "change",
    [
        {"started_at": "0001-01-01T00:00:00+14:00", "ended_at": None, "minutes": []},
        {"ended_at": "9999-12-31T23:00:00-05:00"},
    ],
)
def test_import_rejects_datetimes_outside_the_storable_range(import_world, tmp_path, change):
    record = {**valid_record(f"edge-{uuid.uuid4()}"), **change}
    before = import_counts()
    returncode, out, err = run_import(tmp_path, [_dump(record)])
    assert (returncode, out.strip()) == (1, "created 0, updated 0, rejected 1")
    assert re.fullmatch(r"line 1: (started_at|ended_at): .+", err.strip())
    assert import_counts() == before


@pytest.mark.parametrize("path", [(), ("totals",), ("audience", "provinces")])
def test_import_error_messages_stay_on_one_line(import_world, tmp_path, path):
    record = valid_record(f"k-{uuid.uuid4()}")
    target = record
    for key in path:
        target = target[key]
    target["x\nline 2: title: forged"] = 2.0  # an unknown key, or (in provinces) a share above 1
    returncode, out, err = run_import(tmp_path, [_dump(record), _dump(valid_record(f"ok-{uuid.uuid4()}"))])
    assert (returncode, out.strip()) == (1, "created 1, updated 0, rejected 1")
    assert len(err.strip().split("\n")) == 1, err
    assert err.startswith("line 1: ")


@pytest.mark.parametrize("field", ["title", "external_id"])
def test_import_rejects_lone_surrogates(import_world, tmp_path, field):
    line = _dump(valid_record(f"s-{uuid.uuid4()}")).replace(b'"title": "', b'"title": "\\ud800', 1)
    if field == "external_id":
        line = _dump({**valid_record("x"), "external_id": "PLACEHOLDER"}).replace(b"PLACEHOLDER", b"\\udfff")
    before = import_counts()
    returncode, out, err = run_import(tmp_path, [line])
    assert (returncode, out.strip()) == (1, "created 0, updated 0, rejected 1")
    assert err.startswith(f"line 1: {field}: ")
    assert import_counts() == before
