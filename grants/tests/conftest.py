import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine

SHANGHAI = ZoneInfo("Asia/Shanghai")
TODAY = datetime.date(2026, 11, 28)


def at_shanghai(day: datetime.date, hour=12, minute=0, second=0, microsecond=0) -> datetime.datetime:
    return datetime.datetime(day.year, day.month, day.day, hour, minute, second, microsecond, tzinfo=SHANGHAI)


@pytest.fixture
def frozen_today():
    """Freeze the clock at noon, Asia/Shanghai, on TODAY; yields a function to move it."""
    with time_machine.travel(at_shanghai(TODAY), tick=False) as traveller:
        yield traveller


def d(offset: int) -> datetime.date:
    return TODAY + datetime.timedelta(days=offset)


def error_codes(error) -> set[str]:
    """The codes of a ValidationError, whether it carries a dict of fields or a list."""
    if hasattr(error, "error_dict"):
        return {e.code for errors in error.error_dict.values() for e in errors}
    return {e.code for e in error.error_list}
