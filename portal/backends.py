from django.contrib.auth.backends import ModelBackend


class PortalBackend(ModelBackend):
    """Loads the user with their party (creator or membership and organization) in one query.

    Every page needs to know who the user is in the portal; fetching it here keeps each page's
    query count fixed instead of paying for ``user.creator`` and ``user.membership`` separately.
    """

    def get_user(self, user_id):
        UserModel = self._user_model()
        try:
            user = UserModel._default_manager.select_related("creator", "membership__organization").get(pk=user_id)
        except UserModel.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None

    @staticmethod
    def _user_model():
        from django.contrib.auth import get_user_model

        return get_user_model()
