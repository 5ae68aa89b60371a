"""CSV exports: a BOM, the header, and no cell a spreadsheet would evaluate as a formula (SPEC §13)."""

import csv
import io

from hypothesis import given
from hypothesis import strategies as st

from portal.exports import FORMULA_STARTS, csv_lines, safe_cell

DANGEROUS = st.builds(lambda first, rest: first + rest, st.sampled_from(FORMULA_STARTS), st.text(max_size=30))


def read(lines) -> list[list[str]]:
    return list(csv.reader(io.StringIO("".join(lines).removeprefix("\ufeff"))))


@given(text=DANGEROUS)
def test_text_beginning_like_a_formula_is_written_as_text(text):
    assert safe_cell(text) == "'" + text
    ((cell,),) = read(csv_lines([], [[text]]))[1:]
    assert cell == "'" + text
    assert not cell.startswith(FORMULA_STARTS)


@given(text=st.text(max_size=30).filter(lambda t: not t.startswith(FORMULA_STARTS)))
def test_other_text_is_written_unchanged(text):
    assert safe_cell(text) == text


@given(number=st.integers(min_value=0) | st.decimals(min_value=0, allow_nan=False, places=2))
def test_numbers_are_written_unchanged(number):
    assert safe_cell(number) is number


def test_the_file_starts_with_a_bom_and_the_header_is_neutralised_too():
    lines = list(csv_lines(["标题", "=1+1"], [["a", 1]]))
    assert lines[0].startswith("\ufeff")
    assert read(lines) == [["标题", "'=1+1"], ["a", "1"]]
