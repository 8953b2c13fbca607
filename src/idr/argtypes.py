"""Argument types for the command line: numbers checked where they are parsed, so a bad
value gets argparse's one-line message and exit 2. Shared by every command's parser (idr.cli,
ops, dry-run, metrics), which is why it sits below all of them and imports only argparse."""

from __future__ import annotations

import argparse
import math


def number(kind: type, what: str, *, zero_ok: bool):
    """An argparse type for a finite `kind` (int or float) above zero, or from zero when
    zero_ok; a bad value reads 'expected <what>, got <text>'."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not math.isfinite(value) or value < 0 or (value == 0 and not zero_ok):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text}")
        return value

    return parse


seconds = number(float, "a number of seconds >= 0", zero_ok=True)
positive_int = number(int, "a positive integer", zero_ok=False)
