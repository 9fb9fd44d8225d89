"""The command line's argument parser class: help shows each default, a bad argument is one line on stderr (exit 2)."""

from __future__ import annotations

import argparse
import re
import sys
from typing import NoReturn

EXIT_USAGE = 2


class DefaultsFormatter(argparse.HelpFormatter):
    """Appends ``(default: …)`` to an option's help unless it says its default already or has none to show."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if not action.option_strings or "default" in text or default in (None, False, argparse.SUPPRESS):
            return text
        return f"{text} (default: %(default)s)" if text else "(default: %(default)s)"


class CliParser(argparse.ArgumentParser):
    """An ArgumentParser whose subcommands share its formatter and its one-line errors."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("formatter_class", DefaultsFormatter)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def error(self, message: str) -> NoReturn:
        """One line naming the command and the problem, then exit 2 (argparse's usage block is left to --help)."""
        sys.stderr.write(f"{self.prog}: error: {message} (see {self.prog} --help)\n")
        raise SystemExit(EXIT_USAGE)


def plain_text(docstring: str | None) -> str:
    """A module docstring for --help: reST ````literal```` markup removed."""
    return re.sub(r"``([^`]+)``", r"\1", docstring or "")
