import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]


def _manage(*args, **env):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_is_clean_with_production_settings():
    result = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY="a-real-production-secret-" + "x7Kq2" * 10,
        DJANGO_ALLOWED_HOSTS="portal.example.com",
        DJANGO_SETTINGS_MODULE="portal.settings",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_flags_the_development_key():
    result = _manage(
        "check", "--deploy", "--fail-level", "WARNING", DJANGO_DEBUG="0", DJANGO_SETTINGS_MODULE="portal.settings"
    )
    assert result.returncode != 0
    assert "security.W009" in result.stdout + result.stderr


def test_platform_calendar_and_languages():
    assert settings.TIME_ZONE == "Asia/Shanghai"
    assert settings.USE_TZ is True
    assert settings.LANGUAGE_CODE == "zh-hans"
    assert [code for code, _ in settings.LANGUAGES] == ["zh-hans", "en"]


# --- email from the environment ---------------------------------------------------------------

SMTP = "django.core.mail.backends.smtp.EmailBackend"


def test_email_url_with_tls_user_and_quoted_password():
    from portal.settings import email_settings

    found = email_settings({"DJANGO_EMAIL_URL": "smtp://mailer%40shop.cn:p%40ss%3Aword@smtp.example.com:2525?tls=1"})
    assert found == {
        "EMAIL_BACKEND": SMTP, "EMAIL_HOST": "smtp.example.com", "EMAIL_PORT": 2525,
        "EMAIL_HOST_USER": "mailer@shop.cn", "EMAIL_HOST_PASSWORD": "p@ss:word", "EMAIL_USE_TLS": True,
        "EMAIL_USE_SSL": False,
    }  # fmt: skip


def test_email_url_schemes_and_default_ports():
    from portal.settings import email_settings

    def pick(url):
        found = email_settings({"DJANGO_EMAIL_URL": url})
        return found["EMAIL_PORT"], found["EMAIL_USE_TLS"], found["EMAIL_USE_SSL"]

    assert pick("smtp://localhost") == (25, False, False)
    assert pick("smtps://mail.example.com") == (465, False, True)
    assert pick("smtp://mail.example.com?ssl=1") == (465, False, True)
    assert pick("submission://mail.example.com") == (587, True, False)
    assert email_settings({"DJANGO_EMAIL_URL": "smtp://h?timeout=7"})["EMAIL_TIMEOUT"] == 7


def test_email_url_refuses_what_it_cannot_mean():
    import pytest
    from django.core.exceptions import ImproperlyConfigured

    from portal.settings import email_settings

    for url in ("http://mail.example.com", "smtp://h?tls=1&ssl=1"):
        with pytest.raises(ImproperlyConfigured):
            email_settings({"DJANGO_EMAIL_URL": url})


def test_the_usual_email_variables_and_the_console_default():
    from portal.settings import email_settings

    found = email_settings(
        {"EMAIL_HOST": "smtp.example.com", "EMAIL_PORT": "465", "EMAIL_HOST_USER": "u", "EMAIL_HOST_PASSWORD": "p",
         "EMAIL_USE_SSL": "1", "EMAIL_TIMEOUT": "15"}
    )  # fmt: skip
    assert (found["EMAIL_BACKEND"], found["EMAIL_PORT"], found["EMAIL_USE_SSL"], found["EMAIL_USE_TLS"]) == (
        SMTP, 465, True, False,
    )  # fmt: skip
    assert (found["EMAIL_HOST_USER"], found["EMAIL_HOST_PASSWORD"], found["EMAIL_TIMEOUT"]) == ("u", "p", 15)
    assert email_settings({}) == {"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}
    # The URL wins over the variables.
    assert email_settings({"DJANGO_EMAIL_URL": "smtp://a", "EMAIL_HOST": "b"})["EMAIL_HOST"] == "a"


def test_the_settings_module_reads_the_email_url():
    result = _manage(
        "shell", "-c", "from django.conf import settings as s; print(s.EMAIL_HOST, s.EMAIL_PORT, s.EMAIL_USE_TLS)",
        DJANGO_EMAIL_URL="smtp://u:p@mail.example.com:587?tls=1", DJANGO_SETTINGS_MODULE="portal.settings",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-3:] == ["mail.example.com", "587", "True"]
