"""The project's urls, plus pages that exist only in the bench's URLconf (never the project's).

- ``/bench/plain/``: a template-only page, the throughput baseline. It renders a template (written
  by the harness into ``BENCH_PLAIN_DIR``) whose bytes are exactly those of the gated page, through
  the same middleware, without touching the data.
- ``/bench/same-template/<id>/``: a diagnostic. The gated page's own template (the traffic module)
  rendered from a livestream loaded once per process, so it costs the page's template rendering and
  its shell (session, user, perspective switcher) but neither the access check nor the data queries.
- ``/bench/no-bell/<project path>``: the project's page at that path, without the bell (the unread
  count in the header, one query on every page of a member): the bench's settings put ``bell``
  below in place of the notifications app's context processor, and it answers nothing here.
- ``/bench/unlogged/<project path>``: the project's page at that path (its view, unchanged) with the
  data-access log's write turned off (``grants.access_log.disabled``): the gated page's throughput
  with and without logging, side by side in one run (issue 15: logging costs at most 10 %).
"""

from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.shortcuts import render
from django.template import engines
from django.urls import path, resolve

from grants import access_log
from livestreams.models import Livestream
from notifications.context_processors import bell as project_bell
from portal.urls import urlpatterns as project_urlpatterns

NO_BELL = "/bench/no-bell/"

_plain = None
_livestreams: dict[int, Livestream] = {}


@login_not_required
def plain(request):
    global _plain
    if _plain is None:
        source = (Path(settings.TEMPLATES_PLAIN_DIR) / "plain.html").read_text(encoding="utf-8")
        _plain = engines["django"].from_string("{% verbatim %}" + source + "{% endverbatim %}")
    # No request: no context processors, no queries — only the template engine and the middleware.
    return HttpResponse(_plain.render({}))


def same_template(request, livestream_id: int):
    livestream = _livestreams.get(livestream_id)
    if livestream is None:
        livestream = _livestreams[livestream_id] = Livestream.objects.select_related(
            "creator", "funnel", "sources"
        ).get(pk=livestream_id)
    return render(request, "livestreams/traffic.html", {"livestream": livestream})


def bell(request):
    """The project's bell, except on the pages served under ``NO_BELL``."""
    return {} if request.path.startswith(NO_BELL) else project_bell(request)


def project_page(request, rest: str):
    """The project's view for the path ``/<rest>`` (the request's middleware already ran)."""
    match = resolve("/" + rest)
    return match.func(request, *match.args, **match.kwargs)


def unlogged(request, rest: str):
    with access_log.disabled():
        return project_page(request, rest)


urlpatterns = [
    path("bench/plain/", plain, name="bench_plain"),
    path("bench/same-template/<int:livestream_id>/", same_template, name="bench_same_template"),
    path("bench/no-bell/<path:rest>", project_page, name="bench_no_bell"),
    path("bench/unlogged/<path:rest>", unlogged, name="bench_unlogged"),
    *project_urlpatterns,
]
