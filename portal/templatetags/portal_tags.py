from django import template
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from portal import shell

register = template.Library()


class ShellNode(template.Node):
    def __init__(self, nodelist):
        self.nodelist = nodelist
        self.slots = tuple(slot.nodelist for slot in nodelist.get_nodes_by_type(SlotNode))
        for index, slot in enumerate(nodelist.get_nodes_by_type(SlotNode)):
            slot.stand_in = shell.slot_stand_in(index)

    def render(self, context):
        return shell.render(self.nodelist, context, self.slots)


class SlotNode(template.Node):
    stand_in = None  # numbered by the region it is in

    def __init__(self, nodelist):
        self.nodelist = nodelist

    def render(self, context):
        if self.stand_in is not None and context.get(shell.SKELETON):
            return self.stand_in
        return self.nodelist.render(context)


@register.tag
def shellcache(parser, token):
    """``{% shellcache %}…{% endshellcache %}``: the page's layout, rendered from its inputs alone
    and reused while they are unchanged, with its ``{% slot %}``s rendered for each request
    (``portal.shell``)."""
    nodelist = parser.parse(("endshellcache",))
    parser.delete_first_token()
    return ShellNode(nodelist)


@register.tag
def slot(parser, token):
    """``{% slot %}…{% endslot %}`` inside ``{% shellcache %}``: the page's own part, rendered from
    its whole context on every request (the title, the content, the messages)."""
    nodelist = parser.parse(("endslot",))
    parser.delete_first_token()
    return SlotNode(nodelist)


@register.simple_tag
def avatar(party, size: str = "", square: bool = False):
    """A creator's or organization's avatar: the uploaded image, or initials on a stable colour."""
    classes = " ".join(c for c in ("avatar", size, "square" if square else "") if c)
    image = getattr(party, "avatar", None)
    if image:
        return format_html('<span class="{}"><img src="{}" alt=""></span>', classes, image.url)
    return format_html(
        '<span class="{}" style="background:{}" aria-hidden="true">{}</span>',
        classes,
        party.avatar_colour,
        party.initials,
    )


@register.simple_tag(takes_context=True)
def nav_current(context, *url_names):
    """``aria-current="page"`` when the current view is one of ``url_names`` (namespaced)."""
    match = getattr(context.get("request"), "resolver_match", None)
    if match and match.view_name in url_names:
        return mark_safe('aria-current="page"')  # noqa: S308 - a constant
    return ""


@register.simple_tag(takes_context=True)
def query(context, **changes):
    """The current query string with ``changes`` applied (``None``/"" removes a key); starts with ``?``.

    "Current" is the request's, or ``query_params`` when a view renders a list for another URL
    (an action that refreshes the list it was started from).
    """
    base = context.get("query_params")
    params = (base if base is not None else context["request"].GET).copy()
    for key, value in changes.items():
        if value is None or value == "":
            params.pop(key, None)
        else:
            params[key] = value
    encoded = params.urlencode()
    return f"?{encoded}" if encoded else "?"


@register.simple_tag(takes_context=True)
def page_query(context, page, number):
    """``query`` with the page's own parameter (``Page.param``) set to ``number``."""
    return query(context, **{page.param: number})
