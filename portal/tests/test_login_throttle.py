"""Login throttling (issue 12, item 1): django-axes counts failures per username and per client
address; past the limit the login page answers 429 with ``Retry-After``, before any password is
hashed, with one message that does not reveal whether the account exists; staff see and clear the
lockouts in the admin or with ``axes_reset_*``."""

from __future__ import annotations

import re
from unittest import mock

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.hashers import MD5PasswordHasher
from django.core.cache import cache
from django.core.management import call_command
from django.urls import reverse

from portal import throttle
from portal.factories import DEMO_PASSWORD, CreatorFactory, UserFactory

pytestmark = pytest.mark.django_db
LIMIT = settings.AXES_FAILURE_LIMIT
LOCKED = "登录尝试过于频繁"


def login(client, username, password, address="203.0.113.7"):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address)


def fail(client, username, times, address="203.0.113.7"):
    """``times`` wrong passwords: refused as wrong (200) until the limit-th, which locks out (429)."""
    for attempt in range(1, times + 1):
        response = login(client, username, "wrong-guess", address)
        assert response.status_code == (429 if attempt >= LIMIT else 200), attempt


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Lockouts are remembered in the (per-process) cache for a while: none leaks into other tests."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def alice():
    return CreatorFactory(user=UserFactory(username="alice", password=DEMO_PASSWORD)).user


def test_the_limit_is_configured_per_username_and_per_address():
    assert settings.AXES_LOCKOUT_PARAMETERS == ["username", "ip_address"]
    assert 3 <= LIMIT <= 20
    assert settings.AXES_COOLOFF_TIME.total_seconds() >= 60


def test_last_failure_below_the_limit_still_lets_the_right_password_in(client, alice):
    fail(client, "alice", LIMIT - 1)
    response = login(client, "alice", DEMO_PASSWORD)
    assert response.status_code == 302


def test_after_the_limit_even_the_right_password_is_refused_with_429(client, alice):
    fail(client, "alice", LIMIT)
    response = login(client, "alice", DEMO_PASSWORD)
    assert response.status_code == 429
    assert int(response["Retry-After"]) == int(settings.AXES_COOLOFF_TIME.total_seconds())
    body = response.content.decode()
    assert LOCKED in body
    assert "_auth_user_id" not in client.session


def test_per_username_a_second_address_is_locked_out_too(client, alice):
    fail(client, "alice", LIMIT, address="203.0.113.7")
    assert login(client, "alice", DEMO_PASSWORD, address="198.51.100.9").status_code == 429
    # Another account from that second address is not affected.
    CreatorFactory(user=UserFactory(username="bob", password=DEMO_PASSWORD))
    assert login(client, "bob", DEMO_PASSWORD, address="198.51.100.9").status_code == 302


def test_per_address_rotating_usernames_is_locked_out(client, alice):
    for index in range(LIMIT - 1):
        assert login(client, f"guess-{index}", "wrong-guess").status_code == 200
    assert login(client, f"guess-{LIMIT}", "wrong-guess").status_code == 429
    assert login(client, "alice", DEMO_PASSWORD).status_code == 429
    assert login(client, "alice", DEMO_PASSWORD, address="198.51.100.9").status_code == 302


def test_lockout_does_not_reveal_whether_the_account_exists(client, alice):
    fail(client, "alice", LIMIT, address="203.0.113.7")
    fail(client, "nobody-here", LIMIT, address="198.51.100.9")
    real = login(client, "alice", "wrong-guess", address="203.0.113.7")
    ghost = login(client, "nobody-here", "wrong-guess", address="198.51.100.9")
    assert real.status_code == ghost.status_code == 429
    assert real["Retry-After"] == ghost["Retry-After"]
    assert page_without_tokens(real, "alice") == page_without_tokens(ghost, "nobody-here")


def page_without_tokens(response, username: str) -> str:
    """The page with the posted username and the per-request CSRF tokens blanked out."""
    text = response.content.decode().replace(username, "NAME")
    return re.sub(r'(csrfmiddlewaretoken" value="|X-CSRFToken": ")[^"]+', r"\1TOKEN", text)


def test_a_locked_out_attempt_hashes_no_password(client, alice):
    fail(client, "alice", LIMIT)
    with (
        mock.patch.object(MD5PasswordHasher, "verify", autospec=True) as verify,
        mock.patch.object(MD5PasswordHasher, "encode", autospec=True) as encode,
    ):
        assert login(client, "alice", DEMO_PASSWORD).status_code == 429
        assert login(client, "someone-else", "x").status_code == 429  # same address
    assert verify.call_count == encode.call_count == 0


def test_a_locked_out_client_posting_again_costs_no_query(client, alice, django_assert_num_queries):
    fail(client, "alice", LIMIT)
    with django_assert_num_queries(0):
        by_address = login(client, "someone", "x")
        by_username = login(client, "alice", DEMO_PASSWORD, address="198.51.100.9")
    for response in (by_address, by_username):
        assert response.status_code == 429
        assert int(response["Retry-After"]) > 0
        assert LOCKED in response.content.decode()
    # Remembered for a short while only, so an unlock by staff reaches every worker soon.
    assert throttle.FAST_REFUSAL_SECONDS <= 60


def test_staff_unlock_with_axes_reset_username(client, alice):
    fail(client, "alice", LIMIT)
    assert login(client, "alice", DEMO_PASSWORD, address="198.51.100.9").status_code == 429
    call_command("axes_reset_username", "alice")
    cache.clear()  # what the fast refusal remembered expires within FAST_REFUSAL_SECONDS
    assert login(client, "alice", DEMO_PASSWORD, address="198.51.100.9").status_code == 302


def test_admin_lists_lockouts_and_staff_can_delete_them(client, alice):
    fail(client, "alice", LIMIT)
    attempt = AccessAttempt.objects.get(username="alice")
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    listing = client.get(reverse("admin:axes_accessattempt_changelist"))
    assert listing.status_code == 200
    assert "alice" in listing.content.decode()
    response = client.post(reverse("admin:axes_accessattempt_delete", args=[attempt.pk]), {"post": "yes"})
    assert response.status_code == 302
    client.logout()
    cache.clear()  # what the fast refusal remembered expires within FAST_REFUSAL_SECONDS
    assert login(client, "alice", DEMO_PASSWORD, address="198.51.100.9").status_code == 302


def test_hostile_usernames_are_counted_without_error(client):
    for username in ["a\x00b", "x" * 5000, "ａｌｉｃｅ", "   "]:
        assert login(client, username, "wrong").status_code == 200
    # Full-width "ａｌｉｃｅ" is "alice" to the form (NFKC), and to the counter.
    assert AccessAttempt.objects.filter(username="alice").exists()
    assert max(len(name or "") for name in AccessAttempt.objects.values_list("username", flat=True)) <= 150
