"""The grants app's models, one module per subject; everything is importable from ``grants.models``.

- ``grant``: full-data grants, their status rules, their history events (and ``today()``);
- ``scopes``: a grant's scope as a bit mask of PARTS; ``history``: the immutable event rows' base;
- ``request_status``: a request's status derived from the time (both kinds);
- ``livestream_requests``, ``grant_requests``: the two kinds of request and their history;
- ``reminders``: the reminders sent, each once;
- ``log``: the data-access log;
- ``delegations``: delegations of a grant to sub-accounts.
"""

from .delegations import *  # noqa: F403
from .grant import *  # noqa: F403
from .grant_requests import *  # noqa: F403
from .history import *  # noqa: F403
from .livestream_requests import *  # noqa: F403
from .log import *  # noqa: F403
from .reminders import *  # noqa: F403
from .request_status import *  # noqa: F403
from .scopes import *  # noqa: F403
