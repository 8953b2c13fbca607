"""Validation reports the user's mistakes as configuration problems, and only those: a
bug inside it surfaces as a bug (exit 1, "unexpected error"), not as exit 2 blaming the
configuration."""

from __future__ import annotations

import pytest

import idr.config.validate as validate
from idr.backends.duckdb import open_database
from idr.cli import main
from idr.config.meta import read_config
from idr.errors import ConfigError
from idr_testing import make_db, simple_config


@pytest.fixture
def db(tmp_path):
    return make_db(tmp_path / "idr.duckdb", {"people": [{"id": 1, "email": "a@x.com"}]}, simple_config())


def _plan(db):
    con = open_database(db)
    try:
        return validate.build_plan(con, read_config(con))
    finally:
        con.close()


@pytest.mark.parametrize("target", ["relation_sql", "ident"])  # each is called inside a try
def test_a_bug_in_validation_is_not_a_configuration_problem(db, monkeypatch, target):
    def broken(*args, **kwargs):
        raise AttributeError("'NoneType' object has no attribute 'sql'")

    monkeypatch.setattr(validate, target, broken)
    with pytest.raises(AttributeError):
        _plan(db)


def test_engine_errors_still_are_configuration_problems(db):
    from idr_testing import execute

    execute(db, "UPDATE idr_meta.identifier_mapping SET identifier_value_expr = 'no_such_fn(email)'",
            "UPDATE idr_meta.source_table SET table_fqn = 'missing/x.parquet'")
    with pytest.raises(ConfigError) as e:
        _plan(db)
    assert len(e.value.problems) == 1 and "cannot be read" in e.value.problems[0]
    execute(db, "UPDATE idr_meta.source_table SET table_fqn = 'people'")
    with pytest.raises(ConfigError) as e:
        _plan(db)
    assert "no_such_fn(email)" in e.value.problems[0] and "cannot be evaluated" in e.value.problems[0]


def test_cli_reports_a_bug_as_a_bug(db, monkeypatch, capsys):
    monkeypatch.setattr(validate, "relation_sql", lambda *a: 1 / 0)
    assert main(["run", "--db", str(db)]) == 1
    err = capsys.readouterr().err
    assert "unexpected error: ZeroDivisionError" in err and "please report it" in err
    assert "invalid configuration" not in err
