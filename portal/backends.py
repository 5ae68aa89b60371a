from django.contrib.auth.backends import ModelBackend

from .compiled import CompiledQuery


def _user_with_party(user_model) -> CompiledQuery:
    return CompiledQuery(
        user_model,
        lambda user: user_model._default_manager.select_related("creator", "membership__organization").filter(pk=user),
        user="id",
    )


class PortalBackend(ModelBackend):
    """Loads the user with their party (creator or membership and organization) in one query.

    Every page needs to know who the user is in the portal; fetching it here keeps each page's
    query count fixed instead of paying for ``user.creator`` and ``user.membership`` separately.
    It runs on every request, so the query is compiled once (``portal.compiled.CompiledQuery``):
    the ORM's own SQL and instances, without building the QuerySet again.
    """

    _query: CompiledQuery | None = None

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
