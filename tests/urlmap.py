"""Every URL pattern of the project, enumerated from the resolver (used by the security tests)."""

from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver


@dataclass(frozen=True)
class Route:
    name: str  # namespaced, e.g. "grants:revoke"
    pattern: str  # e.g. "grants/<int:grant_id>/revoke/"
    params: tuple[str, ...]


def iter_routes(resolver=None, prefix="", namespace=""):
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver):
            ns = entry.namespace
            if ns == "admin":
                continue  # Django's admin guards itself (staff only); tested separately.
            child_ns = f"{namespace}{ns}:" if ns else namespace
            yield from iter_routes(entry, prefix + str(entry.pattern), child_ns)
        elif isinstance(entry, URLPattern):
            if not entry.name:
                continue
            yield Route(
                name=f"{namespace}{entry.name}",
                pattern=prefix + str(entry.pattern),
                params=tuple(entry.pattern.converters),
            )


def all_routes() -> list[Route]:
    return sorted(set(iter_routes()), key=lambda r: r.name)
