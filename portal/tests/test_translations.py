"""The English catalog is complete and compiled.

After adding or changing a Chinese msgid (``{% translate %}``, ``gettext``...):

    .venv/bin/python manage.py makemessages -l en --ignore=.venv --ignore=staticfiles --ignore=bench --no-obsolete
    # translate every new or "#, fuzzy" entry in locale/en/LC_MESSAGES/django.po, drop the fuzzy flag
    .venv/bin/python manage.py compilemessages --ignore=.venv

(This test reads the committed .po; it does not re-extract the sources. A string that makemessages
has not picked up yet is caught by the English browser test, tests/e2e/test_english_browser.py.)
"""

import ast
import gettext
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings

PO = Path(settings.BASE_DIR) / "locale" / "en" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|\{\w+\}")


@dataclass
class Entry:
    line: int
    flags: set[str] = field(default_factory=set)
    msgctxt: str | None = None
    msgid: str = ""
    msgid_plural: str | None = None
    msgstr: dict[int, str] = field(default_factory=dict)  # 0 for a singular entry

    def __str__(self) -> str:
        context = f"[{self.msgctxt}] " if self.msgctxt is not None else ""
        return f"django.po:{self.line}: {context}{self.msgid!r}"


def parse_po(text: str) -> list[Entry]:
    """The entries of a .po file: blocks separated by blank lines; obsolete (``#~``) ones skipped."""
    entries = []
    line_number = 1
    for block in text.split("\n\n"):
        lines = block.splitlines()
        entry = Entry(line=line_number + next((i for i, line in enumerate(lines) if line.strip()), 0))
        line_number += len(lines) + 1
        keyword = slot = None
        for line in lines:
            if line.startswith("#,"):
                entry.flags |= {flag.strip() for flag in line[2:].split(",")}
                continue
            if not line or line.startswith("#"):
                continue
            if not line.startswith('"'):
                keyword, _, line = line.partition(" ")
                plural_form = re.fullmatch(r"msgstr(?:\[(\d+)\])?", keyword)
                slot = int(plural_form.group(1) or 0) if plural_form else None
                if slot is None:
                    setattr(entry, keyword, "")
                else:
                    entry.msgstr[slot] = ""
            value = ast.literal_eval(line)  # a C-style quoted string, continued on the following lines
            if slot is None:
                setattr(entry, keyword, getattr(entry, keyword) + value)
            else:
                entry.msgstr[slot] += value
        if keyword is not None:
            entries.append(entry)
    return entries


@pytest.fixture(scope="module")
def entries() -> list[Entry]:
    parsed = parse_po(PO.read_text(encoding="utf-8"))
    header = [e for e in parsed if e.msgid == "" and e.msgctxt is None]
    assert len(header) == 1, "django.po has no header (or more than one)"
    return [e for e in parsed if e is not header[0]]


def test_catalog_is_parsed(entries):
    assert len(entries) > 300
    assert any(e.msgid_plural for e in entries)
    assert any(e.msgctxt for e in entries)


def test_every_entry_is_translated(entries):
    untranslated = [str(e) for e in entries if not e.msgstr or not all(e.msgstr.values())]
    plural_forms = [str(e) for e in entries if e.msgid_plural and sorted(e.msgstr) != [0, 1]]
    assert untranslated == [], "untranslated English entries:\n" + "\n".join(untranslated)
    assert plural_forms == [], "English plural entries need msgstr[0] and msgstr[1]:\n" + "\n".join(plural_forms)


def test_no_fuzzy_entries(entries):
    fuzzy = [str(e) for e in entries if "fuzzy" in e.flags]
    assert fuzzy == [], "fuzzy English entries (check the translation, then remove '#, fuzzy'):\n" + "\n".join(fuzzy)


def test_translations_keep_the_placeholders(entries):
    wrong = []
    for e in entries:
        sources = [e.msgid] if e.msgid_plural is None else [e.msgid, e.msgid_plural]
        expected = sorted(set(PLACEHOLDER.findall(" ".join(sources))))
        for index, translation in e.msgstr.items():
            # An English singular may say "1 day" instead of repeating the count.
            found = sorted(set(PLACEHOLDER.findall(translation)))
            if found != expected and not (e.msgid_plural and index == 0 and set(found) <= set(expected)):
                wrong.append(f"{e}: {translation!r} has {found}, expected {expected}")
    assert wrong == [], "placeholders changed in translation:\n" + "\n".join(wrong)


def test_compiled_catalog_matches_the_po(entries):
    """The committed .mo says what the .po says (else: run compilemessages)."""
    with MO.open("rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    stale = []
    for e in entries:
        if e.msgid_plural is None:
            actual = {0: compiled.gettext(e.msgid) if e.msgctxt is None else compiled.pgettext(e.msgctxt, e.msgid)}
        else:
            actual = {
                index: compiled.ngettext(e.msgid, e.msgid_plural, n)
                if e.msgctxt is None
                else compiled.npgettext(e.msgctxt, e.msgid, e.msgid_plural, n)
                for index, n in ((0, 1), (1, 2))
            }
        if actual != e.msgstr:
            stale.append(f"{e}: .mo has {actual}, .po has {e.msgstr}")
    assert stale == [], "locale/en/LC_MESSAGES/django.mo is out of date; run compilemessages:\n" + "\n".join(stale)
