import pytest
from django.urls import reverse

from portal.factories import CreatorFactory, ShopFactory, SubAccountFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_login_page_renders_in_chinese_by_default(client):
    response = client.get(reverse("login"))
    assert response.status_code == 200
    assert '<html lang="zh-hans">' in response.content.decode()
    assert "登录" in response.content.decode()


def test_browser_language_header_does_not_override_chinese_default(client):
    response = client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert '<html lang="zh-hans">' in response.content.decode()


def test_language_switch_changes_page_language(client):
    response = client.post(reverse("set_language"), {"language": "en", "next": reverse("login")})
    assert response.status_code == 302
    page = client.get(reverse("login")).content.decode()
    assert '<html lang="en">' in page
    assert "Log in" in page


def test_language_switch_ignores_unknown_language(client):
    client.post(reverse("set_language"), {"language": "xx", "next": "/"})
    assert '<html lang="zh-hans">' in client.get(reverse("login")).content.decode()


def test_creator_lands_on_own_data(client):
    creator = CreatorFactory()
    client.force_login(creator.user)
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response.url == reverse("livestreams:creator_overview", kwargs={"creator_id": creator.pk})


@pytest.mark.parametrize("role", ["main", "sub"])
def test_member_lands_on_personal_center(client, role):
    shop = ShopFactory()
    user = shop.main_account if role == "main" else SubAccountFactory(organization=shop)
    client.force_login(user)
    response = client.get(reverse("home"))
    assert response.status_code == 302
    assert response.url == reverse("grants:org_home")


def test_staff_lands_on_admin(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    assert client.get(reverse("home")).url == reverse("admin:index")


def test_user_without_party_sees_explanation(client):
    client.force_login(UserFactory())
    response = client.get(reverse("home"), follow=True)
    assert response.status_code == 403
    assert "尚未关联" in response.content.decode()


def test_login_with_demo_style_password_lands_home(client):
    creator = CreatorFactory(user=UserFactory(username="c1", password="demo-pass-123"))
    response = client.post(reverse("login"), {"username": "c1", "password": "demo-pass-123"})
    assert response.status_code == 302
    assert response.url == reverse("home")
    assert client.get(reverse("home")).url.endswith(f"/creators/{creator.pk}/")


def test_login_with_wrong_password_shows_message(client):
    UserFactory(username="c1", password="demo-pass-123")
    response = client.post(reverse("login"), {"username": "c1", "password": "nope"})
    assert response.status_code == 200
    assert "用户名或密码不正确" in response.content.decode()


def test_logout_requires_post_and_logs_out(client):
    client.force_login(CreatorFactory().user)
    assert client.get(reverse("logout")).status_code == 405
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get(reverse("home")).status_code == 302
    assert client.get(reverse("home")).url.startswith(reverse("login"))


def test_healthz_answers_without_login(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok"


def test_page_shell_carries_csrf_header_and_htmx(client):
    client.force_login(CreatorFactory().user)
    page = client.get(reverse("grants:creator_grants")).content.decode()
    assert 'hx-headers=\'{"X-CSRFToken": "' in page
    assert "htmx" in page
    assert "https://" not in page.split("<body")[0], "nothing may load from the internet"
