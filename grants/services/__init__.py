"""Every rule of SPEC §4–§5 and §9: the only place that changes grants, livestream access requests
and full-data/extension requests.

Each service is keyword-only, runs in one transaction, locks the row it changes
(``select_for_update``), lets the model's guard decide, refuses with ``ValidationError`` (with a
``code``) or ``PermissionDenied``, writes exactly one history event per object it changes, tells
whom SPEC §10 says (``grants.notices``, in the same transaction), and returns the object. Nothing
is written when it refuses.
"""

from .delegations import *  # noqa: F403
from .grant_requests import *  # noqa: F403
from .grants import *  # noqa: F403
from .livestream_moved import *  # noqa: F403
from .livestream_requests import *  # noqa: F403
