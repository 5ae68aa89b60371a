"""Bad input to the login form and the language switch."""

from __future__ import annotations

import re
import unicodedata

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from portal.factories import DEMO_PASSWORD

from .generators import NEXT_VALUES, garbage
from .helpers import MISSING, counts, delta, fuzz, is_safe_location, post, rolled_back, text_of

pytestmark = pytest.mark.django_db


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
