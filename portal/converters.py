"""URL converters."""

# At most 18 digits: every such number fits a 64-bit primary key, so a longer "id" is simply a URL
# that does not exist (404 from the resolver) instead of an overflow deep in a query.
ID_PATTERN = "[0-9]{1,18}"


class IdConverter:
    regex = ID_PATTERN

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value) -> str:
        return str(value)


def parse_id(value) -> int | None:
    """A primary key from form input: ASCII digits only (not "²" or "١٢٣"), at most 18 of them."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 0 < value < 10**18 else None
    if isinstance(value, str) and value.isascii() and value.isdigit() and 0 < len(value) <= 18:
        return int(value)
    return None
