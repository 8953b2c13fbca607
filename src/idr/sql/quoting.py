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



# Spark SQL, for statements that must read the same in any Spark session (a cluster's Hive
# session may lack idr's settings: double-quoted identifiers, escapedStringLiterals).

def backticked(name: str) -> str:
    """Quote one Spark identifier part with backticks, doubling embedded backticks."""
    if not isinstance(name, str) or name == "" or "\x00" in name:
        raise InvalidSqlText(f"invalid SQL identifier: {name!r}")
    return "`" + name.replace("`", "``") + "`"


def spark_literal(value: str) -> str:
    """A Spark string literal where no parameter fits (DDL: locations, properties, partition
    specs). A quote or backslash is refused, not escaped: how Spark reads them depends on
    spark.sql.parser.escapedStringLiterals, so no escaping reads the same in every session."""
    if any(c in value for c in "'\\\x00"):
        raise InvalidSqlText(f"{value!r}: a quote, backslash or NUL cannot be spliced into Spark SQL")
    return "'" + value + "'"
