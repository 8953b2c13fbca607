"""A mistyped YAML field: the message names the file, the line, the source and the field
it probably meant; exit code 2 and nothing written."""

from __future__ import annotations

import pytest

from idr.config.yaml_io import load_yaml
from idr.errors import ConfigError
from idr_testing import idr_cli, make_db, query, simple_config

TYPOS = """\
sources:
  - table_id: crm
    table_fqn: people
    entity_key_expr: id
    identifers:
      - {identifier_type: EMAIL, identifier_value_expr: email}
  - table_id: web
    table_fqn: people
    entity_key_expr: id
    identifiers:
      - identifier_type: EMAIL
        identifer_value_expr: email
rules:
  - {rule_id: email, identifier_type: EMAIL, canonicalise: EMAIL}
exclusion:
  - {identifier_type: EMAIL, identifier_value_pattern: x}
"""


def test_each_typo_gets_its_line_its_owner_and_a_suggestion(tmp_path):
    path = tmp_path / "idr.yaml"
    path.write_text(TYPOS)
    with pytest.raises(ConfigError) as e:
        load_yaml(path)
    problems = e.value.problems
    assert f"{path}, line 5: sources[0] (table_id 'crm'): unknown field 'identifers'; " \
           "did you mean 'identifiers'?" in problems
    assert f"{path}, line 12: sources[1] (table_id 'web'): unknown field 'identifer_value_expr' in " \
           "identifiers[0]; did you mean 'identifier_value_expr'?" in problems
    assert f"{path}, line 14: rules[0]: unknown field 'canonicalise'; did you mean 'canonicalize'?" in problems
    assert f"{path}, line 15: (top level): unknown field 'exclusion'; did you mean 'exclusions'?" in problems
    # The required field the typo left out is reported too, at the mapping it is missing from.
    assert f"{path}, line 11: sources[1] (table_id 'web'): identifiers[0].identifier_value_expr: " \
           "Field required" in problems
    assert len(problems) == 5


def test_a_field_like_nothing_known_lists_the_known_fields(tmp_path):
    path = tmp_path / "idr.yaml"
    path.write_text("rules:\n  - rule_id: email\n    identifier_type: EMAIL\n    zzz: 1\n")
    with pytest.raises(ConfigError) as e:
        load_yaml(path)
    assert e.value.problems == [
        f"{path}, line 4: rules[0]: unknown field 'zzz' (known: rule_id, identifier_type, canonicalize, "
        "max_group_size, is_active, priority)"]


def test_cli_exits_2_and_writes_nothing(tmp_path):
    db = make_db(tmp_path / "idr.duckdb", {"people": [{"id": 1, "email": "a@x.com"}]}, simple_config())
    before = query(db, "SELECT * FROM idr_meta.source_table")
    path = tmp_path / "idr.yaml"
    path.write_text(TYPOS)
    proc = idr_cli("config", "load", str(path), "--db", str(db))
    assert proc.returncode == 2
    assert proc.stderr.startswith("idr: error: invalid configuration (5 problems):")
    assert "line 5: sources[0] (table_id 'crm'): unknown field 'identifers'; did you mean 'identifiers'?" \
        in proc.stderr
    assert "Traceback" not in proc.stderr
    assert query(db, "SELECT * FROM idr_meta.source_table") == before
