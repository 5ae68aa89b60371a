"""Authorization management pages of both perspectives (function views, HTMX partials by the view),
one module per side: ``grants`` (the creator's grants), ``requests`` (the creator's decisions on
requests), ``org`` (the organization's pages and requests); ``common`` holds what they share."""

from .grants import *  # noqa: F403
from .org import *  # noqa: F403
from .requests import *  # noqa: F403
