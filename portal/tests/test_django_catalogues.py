"""Django's and django-axes' own strings in Chinese (issue 12, item 11): the password validators'
messages and help texts, and the admin's pages, including axes' lockouts. Django 5.2's zh_Hans
catalogue translates an older msgid of the minimum-length message and lacks a few admin strings;
axes ships no zh_Hans: ``locale_overrides/`` supplies them (see its .po for the why)."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import translation

from portal.factories import UserFactory

pytestmark = pytest.mark.django_db
CHINESE = re.compile(r"[\u4e00-\u9fff]")
ENGLISH_WORDS = re.compile(r"[A-Za-z]{3,}")


def messages_of(password: str, user) -> list[str]:
    try:
        password_validation.validate_password(password, user)
    except ValidationError as error:
        return error.messages
    return []


@pytest.mark.parametrize("password", ["1", "123", "password", "alice-portal", "12345678901"])
def test_every_validator_message_is_chinese(password):
    user = UserFactory(username="alice-portal")
    with translation.override("zh-hans"):
        found = messages_of(password, user)
        help_texts = password_validation.password_validators_help_texts()
    assert found, password
    for text in found + help_texts:
        assert CHINESE.search(text), text
        assert not ENGLISH_WORDS.search(text), text


def test_each_validator_is_reached():
    user = UserFactory(username="alice-portal")
    with translation.override("zh-hans"):
        seen = messages_of("1", user) + messages_of("password", user) + messages_of("alice-portal", user)
    assert any("密码长度太短" in text for text in seen)
    assert any("太常见" in text for text in seen)
    assert any("只包含数字" in text for text in seen), seen
    assert any("相似" in text for text in seen), seen


def test_english_stays_english():
    with translation.override("en"):
        assert messages_of("1", UserFactory())[0].startswith("This password is too short.")


def test_the_admin_speaks_chinese_on_passwords_and_lockouts(client):
    admin = UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin)
    target = UserFactory()
    response = client.post(
        reverse("admin:auth_user_password_change", args=[target.pk]),
        {"password1": "1", "password2": "1", "usable_password": "true"},
    )
    body = response.content.decode()
    assert "密码长度太短。密码必须包含至少 8 个字符。" in body
    assert "This password" not in body
    page = client.get(reverse("admin:axes_accessattempt_changelist")).content.decode()
    assert "登录尝试" in page
    assert "access attempt" not in page.lower()
