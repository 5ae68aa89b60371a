"""URL × role crawl (OWASP ASVS V8): every URL pattern, every role, GET and POST.

The URL patterns come from the resolver, so a new pattern the crawl does not cover fails
``test_every_route_is_covered``. Parameters are filled with objects that belong to the creator
"A": her grant, her livestream, a request for it. Each role gets the expected status, and a role
without access never sees the protected data (titles, GMV, product names, the grantee).
"""

import datetime
import re
from decimal import Decimal

import pytest
from django.urls import reverse

from grants import access, services
from grants.factories import GrantFactory
from grants.models import (
    AccessLogEntry,
    Delegation,
    DelegationEvent,
    Grant,
    GrantEvent,
    GrantRequest,
    GrantRequestEvent,
    LivestreamAccessEvent,
    LivestreamAccessRequest,
    scope_of,
)
from livestreams import writes
from livestreams.factories import LivestreamFactory
from livestreams.templatetags.data_format import format_money
from notifications.models import Message
from notifications.services import regenerate_calendar_feed
from portal.factories import CreatorFactory, ShopFactory, SubAccountFactory
from tests.urlmap import all_routes

ROLES = (
    "anonymous", "owner", "other_creator", "main_with_access", "sub_with_access", "main_without_access",
    # SPEC §12: a sub-account of the organization with access holding a delegation of its grant
    # (数据概览 + 直播列表), and the main account of a third organization whose grant from the same
    # creator covers 数据概览 only.
    "delegate", "main_narrowed",
)  # fmt: skip
LOGIN = 302  # anonymous: sent to the login page

# Expected status per route: (GET, POST), each either one status for every signed-in role or a dict.
ANY = "any"


def per_role(anonymous=LOGIN, **statuses):
    return {"anonymous": anonymous, **statuses}


def same(status, anonymous=LOGIN):
    return per_role(anonymous, **dict.fromkeys(ROLES[1:], status))


NOT_A_CREATOR = dict(delegate=403, main_narrowed=403)  # the creator's own pages refuse members first
CREATOR_ONLY = dict(
    owner=200, other_creator=200, main_with_access=403, sub_with_access=403, main_without_access=403, **NOT_A_CREATOR
)
OWN_GRANT_ACTION = dict(
    owner=200, other_creator=404, main_with_access=403, sub_with_access=403, main_without_access=403, **NOT_A_CREATOR
)
# The overview: the delegate's and the narrowed main account's scopes both cover it.
CREATOR_DATA = dict(
    owner=200, other_creator=404, main_with_access=200, sub_with_access=404, main_without_access=404, delegate=200,
    main_narrowed=200,
)  # fmt: skip
# The livestream list and its CSV: outside the narrowed scope, refused exactly like no grant.
CREATOR_LIST = {**CREATOR_DATA, "main_narrowed": 404}
# The delegate's organization's request for the livestream was approved (its modules open to every
# member); the narrowed main account's scope leaves the modules out and its organization did not
# cooperate: as absent.
MODULES = dict(
    owner=200, other_creator=404, main_with_access=200, sub_with_access=200, main_without_access=403, delegate=200,
    main_narrowed=404,
)  # fmt: skip
DECIDE = dict(
    owner=302, other_creator=404, main_with_access=403, sub_with_access=403, main_without_access=403, **NOT_A_CREATOR
)
OWN_REQUEST_DIALOG = dict(
    owner=200, other_creator=404, main_with_access=403, sub_with_access=403, main_without_access=403, **NOT_A_CREATOR
)
CREATOR_BULK = dict(
    owner=302, other_creator=302, main_with_access=403, sub_with_access=403, main_without_access=403, **NOT_A_CREATOR
)
MAIN_ACCOUNT_ONLY = dict(
    owner=403, other_creator=403, main_with_access=200, sub_with_access=403, main_without_access=200, delegate=403,
    main_narrowed=200,
)  # fmt: skip
# The grant request is an extension request of the organization with access: its main account and
# the creator see it; nobody else knows it exists.
GRANT_REQUEST_VIEWERS = dict(
    owner=200, other_creator=404, main_with_access=200, sub_with_access=404, main_without_access=404, delegate=404,
    main_narrowed=404,
)  # fmt: skip
OWN_MESSAGE = dict(
    owner=404, other_creator=404, main_with_access=302, sub_with_access=404, main_without_access=404, delegate=404,
    main_narrowed=404,
)  # fmt: skip
# The main account's delegation forms (SPEC §12): the grant's organization's main account (an empty
# form: 422; ending the delegation: 302); another main account's is as absent; everybody else is refused.
DELEGATING = dict(
    owner=403, other_creator=403, main_with_access=422, sub_with_access=403, main_without_access=404, delegate=403,
    main_narrowed=404,
)  # fmt: skip
LOG_READERS = dict(
    owner=200, other_creator=200, main_with_access=200, sub_with_access=403, main_without_access=200, delegate=403,
    main_narrowed=200,
)  # fmt: skip
PREVIEW = dict(
    owner=200, other_creator=404, main_with_access=404, sub_with_access=404, main_without_access=404, delegate=404,
    main_narrowed=404,
)  # fmt: skip

EXPECTED = {
    "home": (same(302), same(405)),
    "no_party": (same(302), same(405)),
    "login": (per_role(200, **dict.fromkeys(ROLES[1:], 302)), per_role(200, **dict.fromkeys(ROLES[1:], 302))),
    "logout": (same(405), same(302)),
    "set_language": (per_role(302, **dict.fromkeys(ROLES[1:], 302)), per_role(302, **dict.fromkeys(ROLES[1:], 302))),
    "healthz": (per_role(200, **dict.fromkeys(ROLES[1:], 200)), per_role(405, **dict.fromkeys(ROLES[1:], 405))),
    "readyz": (per_role(200, **dict.fromkeys(ROLES[1:], 200)), per_role(405, **dict.fromkeys(ROLES[1:], 405))),
    "grants:creator_grants": (per_role(**CREATOR_ONLY), same(405)),
    "grants:authorize": (per_role(**CREATOR_ONLY), per_role(**{**CREATOR_ONLY, "owner": 422, "other_creator": 422})),
    "grants:organization_search": (per_role(**CREATOR_ONLY), same(405)),
    "grants:grant_detail": (
        per_role(
            owner=200,
            other_creator=404,
            main_with_access=200,
            sub_with_access=404,
            main_without_access=404,
            delegate=404,
            main_narrowed=404,
        ),
        same(405),
    ),
    # The grant page's forms: an empty post is refused by the form or the service (empty_scope).
    "grants:change_scope": (same(405), per_role(**{**OWN_GRANT_ACTION, "owner": 422})),
    "grants:set_delegation_allowed": (same(405), per_role(**{**OWN_GRANT_ACTION, "owner": 422})),
    "grants:delegate": (same(405), per_role(**DELEGATING)),
    "grants:end_delegation": (same(405), per_role(**{**DELEGATING, "main_with_access": 302})),
    "grants:revoke": (per_role(**OWN_GRANT_ACTION), per_role(**{**OWN_GRANT_ACTION, "owner": 302})),
    "grants:renew_early": (per_role(**OWN_GRANT_ACTION), per_role(**{**OWN_GRANT_ACTION, "owner": 422})),
    "grants:renew": (per_role(**OWN_GRANT_ACTION), per_role(**{**OWN_GRANT_ACTION, "owner": 422})),
    "grants:creator_requests": (per_role(**CREATOR_ONLY), same(405)),
    "grants:approve_request": (same(405), per_role(**DECIDE)),
    # The decline dialog (GET); its post with no reason declines.
    "grants:decline_request": (per_role(**OWN_REQUEST_DIALOG), per_role(**DECIDE)),
    "grants:bulk_requests": (same(405), per_role(**CREATOR_BULK)),
    "grants:bulk_revoke": (same(405), per_role(**CREATOR_BULK)),
    "grants:bulk_grant_requests": (same(405), per_role(**CREATOR_BULK)),
    "grants:grant_request_detail": (per_role(**GRANT_REQUEST_VIEWERS), same(405)),
    # The approve dialog; its empty post misses the new end (422).
    "grants:approve_grant_request": (per_role(**OWN_REQUEST_DIALOG), per_role(**{**OWN_REQUEST_DIALOG, "owner": 422})),
    "grants:decline_grant_request": (per_role(**OWN_REQUEST_DIALOG), per_role(**DECIDE)),
    "grants:request_grant": (
        per_role(**MAIN_ACCOUNT_ONLY),
        per_role(**{**MAIN_ACCOUNT_ONLY, "main_with_access": 422, "main_without_access": 422, "main_narrowed": 422}),
    ),
    "grants:creator_search": (per_role(**MAIN_ACCOUNT_ONLY), same(405)),
    "grants:request_extension": (
        per_role(**{**MAIN_ACCOUNT_ONLY, "main_without_access": 404, "main_narrowed": 404}),
        per_role(**{**MAIN_ACCOUNT_ONLY, "main_with_access": 422, "main_without_access": 404, "main_narrowed": 404}),
    ),
    "notifications:inbox": (same(200), same(405)),
    "notifications:open": (per_role(**OWN_MESSAGE), same(405)),
    "notifications:mark_all_read": (same(405), same(302)),
    "notifications:settings": (same(200), same(422)),
    "notifications:regenerate_calendar": (
        same(405),
        per_role(
            owner=302,
            other_creator=302,
            main_with_access=302,
            sub_with_access=403,
            main_without_access=302,
            delegate=403,
            main_narrowed=302,
        ),  # fmt: skip
    ),
    # The owner's private calendar URL: its token is the credential, whoever (if anyone) is signed in.
    "notifications:calendar_feed": (per_role(200, **dict.fromkeys(ROLES[1:], 200)), same(405, anonymous=405)),
    "grants:revoke_request": (same(405), per_role(**DECIDE)),
    "grants:org_home": (
        per_role(owner=403, other_creator=403, **dict.fromkeys(ROLES[3:], 200)),
        same(405),
    ),
    # Every member may open the switcher (SPEC §12: a delegate switches to its delegated creators);
    # switching needs an answer that opens something.
    "grants:switch_perspective": (
        same(405),
        per_role(
            owner=403,
            other_creator=403,
            main_with_access=302,
            sub_with_access=404,
            main_without_access=404,
            delegate=302,
            main_narrowed=302,
        ),
    ),
    "grants:perspective_menu": (
        per_role(owner=403, other_creator=403, **dict.fromkeys(ROLES[3:], 200)),
        same(405),
    ),
    "livestreams:creator_overview": (per_role(**CREATOR_DATA), same(405)),
    "livestreams:creator_livestreams": (per_role(**CREATOR_LIST), same(405)),
    "livestreams:creator_export": (per_role(**CREATOR_LIST), same(405)),
    "livestreams:org_livestreams": (
        per_role(owner=302, other_creator=302, **dict.fromkeys(ROLES[3:], 200)),
        same(405),
    ),
    "livestreams:detail": (
        per_role(
            owner=200,
            other_creator=404,
            main_with_access=200,
            sub_with_access=200,
            main_without_access=200,
            delegate=200,
            main_narrowed=404,
        ),
        same(405),
    ),
    # The sub-account's organization has an approved request: the dialog opens, and its POST is the
    # service's already_approved refusal (422, with the message), not a bare 403. Its main account
    # sees the modules through its full-data grant: nothing to request.
    "livestreams:unlock": (
        per_role(
            owner=403,
            other_creator=404,
            main_with_access=403,
            sub_with_access=200,
            main_without_access=200,
            delegate=200,
            main_narrowed=404,
        ),
        per_role(
            owner=403,
            other_creator=404,
            main_with_access=403,
            sub_with_access=422,
            main_without_access=302,
            delegate=422,
            main_narrowed=404,
        ),
    ),
    # Transparency (SPEC §11, §13): the data-access log and its CSV (the creator's own rows, the main
    # account's organization's; sub-accounts refused), the exports, the preview (the creator only).
    "grants:access_log": (per_role(**LOG_READERS), same(405)),
    "grants:access_log_csv": (per_role(**LOG_READERS), same(405)),
    "grants:creator_grants_csv": (per_role(**CREATOR_ONLY), same(405)),
    "grants:grant_history_csv": (
        per_role(
            owner=200,
            other_creator=404,
            main_with_access=200,
            sub_with_access=404,
            main_without_access=404,
            delegate=404,
            main_narrowed=404,
        ),  # fmt: skip
        same(405),
    ),
    "grants:org_grants_csv": (
        per_role(
            owner=403,
            other_creator=403,
            main_with_access=200,
            sub_with_access=403,
            main_without_access=200,
            delegate=403,
            main_narrowed=200,
        ),  # fmt: skip
        same(405),
    ),
    # GET ?grant=<the creator's grant> redirects its creator to the preview; the POST is the authorize
    # dialog's (empty: 422 with the form's errors).
    "grants:preview": (
        per_role(
            owner=302,
            other_creator=404,
            main_with_access=403,
            sub_with_access=403,
            main_without_access=403,
            **NOT_A_CREATOR,
        ),
        per_role(
            owner=422,
            other_creator=422,
            main_with_access=403,
            sub_with_access=403,
            main_without_access=403,
            **NOT_A_CREATOR,
        ),
    ),
    "livestreams:creator_preview": (per_role(**PREVIEW), same(405)),
    "livestreams:creator_preview_livestreams": (per_role(**PREVIEW), same(405)),
    "livestreams:big_screen": (per_role(**MODULES), same(405)),
    "livestreams:traffic": (per_role(**MODULES), same(405)),
    "livestreams:audience": (per_role(**MODULES), same(405)),
}

ROUTES = all_routes()
# What each POST carries (the protected creator's id for the perspective switch; empty elsewhere).
POST_DATA = {"grants:switch_perspective": lambda world: {"creator": world["creator"].pk}}
# What each GET carries (the grant to preview).
GET_DATA = {"grants:preview": lambda world: {"grant": world["grant"].pk}}


def test_every_route_is_covered():
    assert {route.name for route in ROUTES} == set(EXPECTED), "a URL pattern is missing from the crawl (or gone)"


@pytest.fixture
def world(db):
    creator = CreatorFactory(name="机密达人", douyin_id="dy_secret_a")
    with_access, without_access = ShopFactory(name="甲方旗舰店"), ShopFactory(name="乙方专营店")
    grant = GrantFactory(creator=creator, organization=with_access)
    livestream = LivestreamFactory(creator=creator, cooperating=[], title="机密直播标题", minutes=10)
    writes.replace_products(
        livestream=livestream,
        products=[
            {"organization": with_access, "sku": "SECRET-A", "name": "机密商品甲", "price": Decimal("1.00"),
             "units": 1, "orders": 1, "gmv": Decimal("1234567.89")},
            {"organization": without_access, "sku": "SECRET-B", "name": "机密商品乙", "price": Decimal("1.00"),
             "units": 1, "orders": 1, "gmv": Decimal("7654321.12")},
        ]
    )  # fmt: skip
    sub = SubAccountFactory(organization=with_access)
    approved = services.request_livestream_access(livestream=livestream, actor=sub)
    services.approve_livestream_request(request=approved, actor=creator.user)
    other = LivestreamFactory(creator=creator, cooperating=[without_access], minutes=0, title="另一场直播")
    pending = services.request_livestream_access(livestream=other, actor=without_access.main_account)
    extension = services.request_extension(
        grant=grant, ends_on=grant.ends_on + datetime.timedelta(days=30), actor=with_access.main_account
    )
    delegate = SubAccountFactory(organization=with_access)
    delegation = services.delegate(
        grant=grant, sub_account=delegate, ends_on=grant.ends_on, actor=with_access.main_account,
        scope=["overview", "livestreams"],
    )  # fmt: skip
    narrowed = ShopFactory(name="丙方小店")
    GrantFactory(creator=creator, organization=narrowed, scope=scope_of(["overview"]))
    # The main account was told of the approval of its sub-account's request.
    message = Message.objects.for_recipient(with_access.main_account).latest("pk")
    feed = regenerate_calendar_feed(actor=creator.user)
    users = {
        "anonymous": None,
        "owner": creator.user,
        "other_creator": CreatorFactory().user,
        "main_with_access": with_access.main_account,
        "sub_with_access": sub,
        "main_without_access": without_access.main_account,
        "delegate": delegate,
        "main_narrowed": narrowed.main_account,
    }
    return {
        "creator": creator,
        "grant": grant,
        "livestream": livestream,
        "request": pending,
        "users": users,
        "ids": {
            "creator_id": creator.pk,
            "grant_id": grant.pk,
            "livestream_id": livestream.pk,
            "request_id": pending.pk,
            "grant_request_id": extension.pk,
            "message_id": message.pk,
            "token": feed.token,
            "preview": access.preview_token(creator=creator, grant=grant),
            "delegation_id": delegation.pk,
        },
    }


# Data that only someone with access may see, per kind of protected object.
def secrets(world, role):
    livestream = world["livestream"]
    hidden = {"机密直播标题", format_money(livestream.gmv), "机密商品甲", "机密商品乙", "dy_secret_a"}
    if role in ("main_with_access", "sub_with_access", "delegate"):
        hidden.discard("机密商品甲")  # their own product
    if role == "main_without_access":
        hidden.discard("机密商品乙")
    return hidden


def request_as(client, world, role, method, url, data=None):
    client.logout()
    user = world["users"][role]
    if user is not None:
        client.force_login(user)
    return getattr(client, method)(url, data or {})


def normalized(response, url: str) -> bytes:
    """The body without what differs by design: the masked CSRF token and the URL itself."""
    body = re.sub(rb'("X-CSRFToken": "|name="csrfmiddlewaretoken" value=")[^"]+', rb"\1", response.content)
    return body.replace(url.encode(), b"<url>")


INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\ssrc=)[^>]*>|<[a-z][^>]*\son[a-z]+\s*=|javascript:", re.IGNORECASE)


def assert_content_security(response, where: str) -> None:
    """Every response carries the portal's CSP; no HTML page holds a script the CSP would block."""
    assert "script-src 'self'" in response.headers.get("Content-Security-Policy", ""), f"{where}: no CSP"
    if response.headers.get("Content-Type", "").startswith("text/html") and not response.streaming:
        inline = INLINE_SCRIPT.findall(response.content)
        assert not inline, f"{where}: inline script {inline[:3]}"


def assert_not_cached_when_signed_in(response, role: str, where: str) -> None:
    """Every response to a signed-in user (pages, fragments, exports, redirects, refusals) tells
    shared caches and the browser to keep nothing (issue 12, item 9)."""
    if role == "anonymous":
        return
    cache_control = {part.strip() for part in response.get("Cache-Control", "").split(",")}
    assert {"private", "no-store"} <= cache_control, f"{where}: Cache-Control {response.get('Cache-Control')!r}"


def table_counts():
    return tuple(
        model.objects.count()
        for model in (
            Grant, GrantEvent, LivestreamAccessRequest, LivestreamAccessEvent, GrantRequest, GrantRequestEvent,
            Message, AccessLogEntry, Delegation, DelegationEvent,  # a refused page is not recorded as a view
        )
    )  # fmt: skip


def absent_param(value):
    """A parameter that names nothing: an id a million past the real one; for a token (a calendar
    feed's, a preview's), one of the same shape with another ending, whose look-up or signature fails."""
    if isinstance(value, int):
        return value + 10**6
    return value[:-4] + ("AAAA" if not value.endswith("AAAA") else "BBBB")


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.name)
def test_route_for_every_role(client, world, route):
    url = reverse(route.name, kwargs={name: world["ids"][name] for name in route.params})
    get_expected, post_expected = EXPECTED[route.name]
    for role in ROLES:
        for method, expected in (("get", get_expected[role]), ("post", post_expected[role])):
            data = (POST_DATA if method == "post" else GET_DATA).get(route.name, lambda w: {})(world)
            before = table_counts()
            response = request_as(client, world, role, method, url, data)
            assert response.status_code == expected, (
                f"{role} {method.upper()} {url}: {response.status_code} != {expected}"
            )
            assert_content_security(response, f"{role} {method.upper()} {url}")
            assert_not_cached_when_signed_in(response, role, f"{role} {method.upper()} {url}")
            if response.status_code in (403, 404, 405) or role in ("anonymous", "other_creator"):
                body = b"".join(response.streaming_content) if response.streaming else response.content
                leaked = [s for s in secrets(world, role) if s.encode() in body]
                assert not leaked, f"{role} {method.upper()} {url} leaks {leaked}"
            if response.status_code >= 400:
                assert table_counts() == before, f"{role} {method.upper()} {url} wrote despite {response.status_code}"


@pytest.mark.parametrize("route", [r for r in ROUTES if r.params], ids=lambda r: r.name)
def test_foreign_and_absent_ids_give_the_same_404(client, world, route):
    foreign = reverse(route.name, kwargs={name: world["ids"][name] for name in route.params})
    absent = reverse(route.name, kwargs={name: absent_param(world["ids"][name]) for name in route.params})
    get_expected, post_expected = EXPECTED[route.name]
    for role in ROLES[1:]:
        for method, expected in (("get", get_expected[role]), ("post", post_expected[role])):
            if expected != 404:
                continue
            first = request_as(client, world, role, method, foreign)
            second = request_as(client, world, role, method, absent)
            assert (first.status_code, second.status_code) == (404, 404), (role, method, route.name)
            assert normalized(first, foreign) == normalized(second, absent), (
                f"{role} can tell a foreign {route.name} from an absent one"
            )


def test_owner_sees_the_absent_ids_as_404_too(client, world):
    client.force_login(world["users"]["owner"])
    for route in ROUTES:
        if not route.params:
            continue
        absent = reverse(route.name, kwargs={name: absent_param(world["ids"][name]) for name in route.params})
        method = "post" if EXPECTED[route.name][0]["owner"] == 405 else "get"
        if EXPECTED[route.name][method == "post"]["owner"] == 403:
            continue  # a page that is not the creator's to use at all (an organization's): refused first
        assert getattr(client, method)(absent).status_code == 404, route.name


def test_the_narrowed_main_account_sees_no_part_outside_its_scope(client, world):
    """数据概览 only (SPEC §12): the overview page shows the KPIs, not the top products and shops,
    and the navigation links to no page outside the scope."""
    client.force_login(world["users"]["main_narrowed"])
    creator = world["creator"]
    body = client.get(reverse("livestreams:creator_overview", args=[creator.pk])).content.decode()
    assert "机密商品甲" not in body
    assert "机密商品乙" not in body
    assert reverse("livestreams:creator_livestreams", args=[creator.pk]) not in body
    assert reverse("livestreams:creator_export", args=[creator.pk]) not in body
