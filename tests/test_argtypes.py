"""Numbers on the command line: one checker for every command, bad values exit 2 with what
was expected."""

import argparse

import pytest
from idr_testing import idr_cli

from idr.argtypes import number, positive_int, seconds


@pytest.mark.parametrize("parse, text, value", [(seconds, "0", 0.0), (seconds, "2.5", 2.5),
                                                (positive_int, "7", 7)])
def test_accepted(parse, text, value):
    assert parse(text) == value


@pytest.mark.parametrize("parse, text", [(seconds, "-1"), (seconds, "inf"), (seconds, "nan"), (seconds, "soon"),
                                         (positive_int, "0"), (positive_int, "-3"), (positive_int, "1.5")])
def test_refused(parse, text):
    with pytest.raises(argparse.ArgumentTypeError, match="expected"):
        parse(text)


def test_zero_ok_is_the_only_difference():
    assert number(int, "x", zero_ok=True)("0") == 0
    with pytest.raises(argparse.ArgumentTypeError, match="expected x, got 0"):
        number(int, "x", zero_ok=False)("0")


@pytest.mark.parametrize("args, expected", [
    (["runs", "--limit", "0"], "expected a positive integer, got 0"),
    (["run", "--wait", "-1"], "expected a number of seconds >= 0, got -1"),
    (["dry-run", "cleanup", "--older-than", "-2"], "expected a number of days >= 0, got -2"),
    (["metrics", "push", "--timeout", "0"], "expected a number of seconds > 0, got 0"),
    (["backup", "--to", "x", "--keep-days", "0"], "expected a whole number of days > 0, got 0"),
])
def test_cli_refuses_bad_numbers(tmp_path, args, expected):
    r = idr_cli(*args, "--db", str(tmp_path / "none.duckdb"))
    assert r.returncode == 2 and expected in r.stderr, r.stderr
