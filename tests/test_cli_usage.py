"""The command line as a new user meets it: help with defaults, one-line errors (exit 2), --version, busy ports."""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from service.cli import EXIT_DATA, build_parser, main
from service.cli_parser import EXIT_USAGE
from service.version import package_version
from tests.conftest import ROOT

PATIENT = str(ROOT / "fixtures" / "patients" / "advair_fasciculation.json")


def _parsers(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                yield from _parsers(child)


def _options() -> Iterator[tuple[argparse.ArgumentParser, argparse.Action]]:
    for parser in _parsers(build_parser()):
        for action in parser._actions:
            if action.option_strings and action.dest not in ("help", "version"):
                yield parser, action


def test_every_option_has_help_that_shows_its_default() -> None:
    for parser, action in _options():
        assert action.help, f"{parser.prog} {action.option_strings[0]} has no help"
        shown = parser._get_formatter()._expand_help(action)  # the help text as --help prints it
        if action.default not in (None, False):
            assert "default" in shown, f"{parser.prog} {action.option_strings[0]} does not show its default"
        assert "None" not in shown


def test_help_has_no_raw_markup() -> None:
    assert all("``" not in parser.format_help() for parser in _parsers(build_parser()))


@pytest.mark.parametrize(
    "argv",
    [
        ["evaluate", "--bundle", PATIENT, "--now", "yesterday"],
        ["workup", "--bundle", PATIENT, "--out", "-", "--now", "yesterday"],
        ["serve", "--port", "eighty"],
        ["evaluate", "--bundle", PATIENT, "--hook", "order-dance"],
        ["evaluate", "--fhir-server", "http://127.0.0.1:9"],
        ["no-such-command"],
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    err = capsys.readouterr().err
    assert exited.value.code == EXIT_USAGE
    assert len(err.splitlines()) == 1 and "error:" in err and "Traceback" not in err


def test_bad_now_in_a_real_process_has_no_traceback() -> None:
    command = [sys.executable, "-m", "service.cli", "evaluate", "--bundle", PATIENT, "--now", "yesterday"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == EXIT_USAGE
    assert done.stderr.count("\n") == 1 and "--now" in done.stderr and "'yesterday'" in done.stderr


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"fasciculation-cds {package_version()}"
    assert package_version()[0].isdigit()


def test_a_port_in_use_says_so_and_names_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port), "--workers", "1"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert f"port {port}" in err and "in use" in err and "--port" in err and len(err.splitlines()) == 1


def test_an_unreachable_fhir_server_is_one_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # bound, never listening: connections are refused
        code = main(["evaluate", "--fhir-server", f"http://127.0.0.1:{port}", "--patient", "p1", "--now", "2026-11-20"])
    captured = capsys.readouterr()
    assert code == EXIT_DATA and captured.out == ""
    (line,) = captured.err.splitlines()
    assert line.startswith("error (precondition_failed): ") and "unreachable" in line and "{" not in line
