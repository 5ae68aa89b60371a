"""Inputs shared by the chart tests."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal


def minutes(count: int, start=datetime(2026, 11, 1, 11, 0, tzinfo=UTC), value=lambda i: 1000 + i):
    return [{"at": start + timedelta(minutes=i), "online": value(i), "gmv": Decimal(i) * 10} for i in range(count)]


def daily(count: int, end=date(2026, 11, 28)):
    first = end - timedelta(days=count - 1)
    return [first + timedelta(days=i) for i in range(count)]
