"""Values as the Python clients' JSON documents carry them (tests/clients/README.md):
decimals as exact strings, dates `YYYY-MM-DD`, timestamps with zone in UTC
`YYYY-MM-DDTHH:MM:SSZ` (a timestamp without zone is marked, so the check fails), and the
driver's own type of each value."""

import datetime
import decimal


def canonical(value):
    """A value as the JSON document carries it."""
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            return "naive " + value.isoformat()
        return value.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, datetime.date):
        return value.isoformat()
    return value


def native(value):
    """The driver's type of a value."""
    name = type(value).__name__
    if isinstance(value, datetime.datetime) and value.tzinfo is not None:
        name += "+tz"
    return name
