from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.utils.module_loading import import_string

from .compiled import CompiledQuery


def user_annotations() -> dict:
    """What other apps add to the user of every request, by name: ``PORTAL_USER_ANNOTATIONS`` maps
    an attribute to the dotted path of a function returning its expression (the notifications app
    adds the bell's unread count), so the user query carries it without portal importing them."""
    return {name: import_string(path)() for name, path in getattr(settings, "PORTAL_USER_ANNOTATIONS", {}).items()}


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
