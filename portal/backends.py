from collections.abc import Callable

from axes.backends import AxesStandaloneBackend
from django.contrib.auth.backends import ModelBackend

from .compiled import CompiledQuery

_ANNOTATIONS: dict[str, Callable] = {}


def annotate_users(name: str, expression: Callable) -> None:
    """What another app adds to the user of every request: the attribute ``name``, read by the
    expression ``expression()`` returns (an app registers it in its ``ready()``: the notifications
    app, the bell's unread count), so the user query carries it without portal importing the app."""
    _ANNOTATIONS[name] = expression
    PortalBackend._query = None  # compiled again with it


def user_annotations() -> dict:
    return {name: expression() for name, expression in _ANNOTATIONS.items()}


def _user_with_party(user_model) -> CompiledQuery:
    return CompiledQuery(
        user_model,
        lambda user: (
            user_model._default_manager.select_related("creator", "membership__organization")
            .annotate(**user_annotations())
            .filter(pk=user)
        ),
        user="id",
    )


class PortalBackend(AxesStandaloneBackend, ModelBackend):
    """Logs users in, unless django-axes has locked the attempt out; loads the user with their party
    (creator or membership and organization) in one query.

    Login throttling (``portal/throttle.py``): ``authenticate`` first asks axes whether the client
    may try (per username and per address); a locked-out attempt is refused with axes'
    ``PermissionDenied`` before any password is hashed. A call without a request (a management
    command, a shell) has no client to throttle and is not counted.

    Every page needs to know who the user is in the portal; fetching it here keeps each page's
    query count fixed instead of paying for ``user.creator`` and ``user.membership`` separately.
    The same query reads what the header shows of the user on every page (``user_annotations``:
    the bell's unread count), so the bell costs no round trip of its own.
    It runs on every request, so the query is compiled once (``portal.compiled.CompiledQuery``):
    the ORM's own SQL and instances, without building the QuerySet again.
    """

    _query: CompiledQuery | None = None

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is not None:
            AxesStandaloneBackend.authenticate(self, request, username=username, password=password, **kwargs)
        return ModelBackend.authenticate(self, request, username=username, password=password, **kwargs)

    def get_user(self, user_id):
        UserModel = self._user_model()
        query = PortalBackend._query
        if query is None or query.model is not UserModel:
            query = PortalBackend._query = _user_with_party(UserModel)
        found = query.objects(user=int(user_id))
        if not found:
            return None
        user = found[0]
        return user if self.user_can_authenticate(user) else None

    @staticmethod
    def _user_model():
        from django.contrib.auth import get_user_model

        return get_user_model()
