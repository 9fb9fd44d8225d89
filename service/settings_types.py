"""The typed pieces every settings model is declared with, and how a bad value becomes one line.

The models (``service/config.py``, ``service/workup/config.py``) are pydantic dataclasses: each field says its type,
default and bounds once; pydantic converts the environment's text and checks the bounds. A bad value stops the
service with ``SettingsError``: one line naming the variable, what is wrong and what is allowed. The value itself
is never repeated (it may be a password in a database URL or a key).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BeforeValidator, ValidationError

TRUE_WORDS = frozenset({"true", "1", "yes"})
FALSE_WORDS = frozenset({"false", "0", "no"})
DATABASE_SCHEMES = re.compile(r"^(sqlite|postgresql)(\+\w+)?://")


class SettingsError(ValueError):
    """A setting that cannot be used; the message is one line for the operator."""


def _flag(value: Any) -> Any:
    if isinstance(value, str):
        word = value.strip().lower()
        if word in TRUE_WORDS | FALSE_WORDS:
            return word in TRUE_WORDS
        raise ValueError("must be true/false, 1/0 or yes/no")
    return value


def _database_url(value: str) -> str:
    if not DATABASE_SCHEMES.match(value):
        raise ValueError("must be sqlite:///<file> or postgresql+psycopg://user@host:5432/db")
    return value


def _log_level(value: Any) -> Any:
    levels = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
    if isinstance(value, str) and value.strip().upper() in levels:
        return value.strip().upper()
    raise ValueError(f"must be one of {', '.join(levels)}")


def _time_zone(value: str) -> str:
    try:
        ZoneInfo(value.strip())
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("must be an IANA time zone name such as UTC or Europe/London") from None
    return value.strip()


Flag = Annotated[bool, BeforeValidator(_flag)]
TimeZoneName = Annotated[str, AfterValidator(_time_zone)]
DatabaseUrl = Annotated[str, AfterValidator(_database_url)]
LogLevel = Annotated[str, BeforeValidator(_log_level)]


def _problem(error: Mapping[str, Any]) -> str:
    message = str(error["msg"])
    message = message.removeprefix("Value error, ")
    return message[0].lower() + message[1:] if message else "is not valid"


def one_line(exc: ValidationError, names: Mapping[str, str]) -> SettingsError:
    """The first problem of ``exc`` as one line naming the environment variable (``names``: field -> variable)."""
    error = exc.errors()[0]
    field = str(error["loc"][0]) if error["loc"] else ""
    variable = names.get(field, field)
    problem = _problem(error)
    others = len(exc.errors()) - 1
    more = f" (and {others} more problem{'s' if others > 1 else ''})" if others else ""
    return SettingsError(f"{variable} is not valid: {problem}{more}")
