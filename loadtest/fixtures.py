"""Accounts and data for the load test, on top of the demo world (idempotent).

- ``load-creator-00`` … : creators with livestreams, each granting ``load-shop-NN`` (active), and a
  dedicated partner ``load-partner-NN`` that the virtual creator authorizes, renews and revokes in a
  loop (one pair per virtual user, so every operation is valid).
- ``load-shop-NN`` (main account) and ``load-staff-NN`` (its sub-account, with approved requests).
"""

import datetime

import django

django.setup()

from django.db import transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from grants import services  # noqa: E402
from grants.factories import GrantFactory  # noqa: E402
from grants.models import Grant  # noqa: E402
from livestreams.factories import LivestreamFactory  # noqa: E402
from portal.factories import DEMO_PASSWORD, CreatorFactory, ShopFactory, SubAccountFactory, UserFactory  # noqa: E402
from portal.models import Creator, Organization, User  # noqa: E402

ACCOUNTS = 20
LIVESTREAMS = 12


def build() -> None:
    if Creator.objects.filter(douyin_id="dy_load_00").exists():
        return
    today = timezone.localdate()
    with transaction.atomic():
        for n in range(ACCOUNTS):
            creator = CreatorFactory(
                douyin_id=f"dy_load_{n:02d}", name=f"压测达人{n:02d}",
                user=UserFactory(username=f"load-creator-{n:02d}", password=DEMO_PASSWORD),
            )  # fmt: skip
            shop = ShopFactory(
                code=f"load-shop-{n:02d}", name=f"压测商家{n:02d}",
                main__user__username=f"load-shop-{n:02d}", main__user__password=DEMO_PASSWORD,
            )  # fmt: skip
            staff = SubAccountFactory(organization=shop, username=f"load-staff-{n:02d}", password=DEMO_PASSWORD)
            ShopFactory(code=f"load-partner-{n:02d}", name=f"压测合作方{n:02d}")
            GrantFactory(creator=creator, organization=shop, starts_on=today - datetime.timedelta(days=10),
                         ends_on=today + datetime.timedelta(days=60))  # fmt: skip
            for i in range(LIVESTREAMS):
                started = timezone.now() - datetime.timedelta(days=1 + i * 5, hours=n % 5)
                livestream = LivestreamFactory(
                    external_id=f"load-{n:02d}-{i:02d}", creator=creator, cooperating=[shop],
                    started_at=started, minutes=90, duration=90,
                )  # fmt: skip
                if i < 4:
                    request = services.request_livestream_access(livestream=livestream, actor=staff)
                    services.approve_livestream_request(request=request, actor=creator.user)


def sessions() -> dict[str, str]:
    """A signed-in session per load account, so the measured minute is steady-state traffic.

    Logging in is left out on purpose: the password hash (PBKDF2, 1,000,000 iterations) costs
    about half a second of CPU by design, and 50 simultaneous logins would measure only that.
    """
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    keys = {}
    for user in User.objects.filter(username__startswith="load-"):
        store = SessionStore()
        store[SESSION_KEY] = str(user.pk)
        store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.create()
        keys[user.username] = store.session_key
    return keys


def summary() -> str:
    return f"{User.objects.count()} users, {Organization.objects.count()} organizations, {Grant.objects.count()} grants"


if __name__ == "__main__":
    import json
    import sys

    build()
    if len(sys.argv) > 1:
        with open(sys.argv[1], "w", encoding="utf-8") as handle:
            json.dump(sessions(), handle)
    print("load fixtures ready:", summary())
