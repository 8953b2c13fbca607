"""The one place where names and literals become SQL text.

Identifier values, patterns and names that come from users are data. Values are bound as
parameters wherever the engine allows; when text must be spliced (a table name, a file
path in a table function) it goes through these functions and nowhere else.
"""

from __future__ import annotations

from ..errors import InvalidSqlText


def ident(name: str) -> str:
    """Quote one identifier part, doubling embedded double quotes."""
    if not isinstance(name, str) or name == "" or "\x00" in name:
        raise InvalidSqlText(f"invalid SQL identifier: {name!r}")
    return '"' + name.replace('"', '""') + '"'


def qualified(*parts: str) -> str:
    """Quote a dotted name given as parts: ("idr_out", "run_history")."""
    return ".".join(ident(p) for p in parts)


def literal(value: str) -> str:
    """Quote a string literal. Only for places that cannot take a bound parameter."""
    if "\x00" in value:
        raise InvalidSqlText("string literal contains a NUL character")
    return "'" + value.replace("'", "''") + "'"

