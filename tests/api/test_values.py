"""A lookup normalises one value exactly as a run normalised the column: checked against
the pipeline's own normalise stage on random text, and the index's string hash against
its vectorised form."""

from __future__ import annotations

import json

import pyarrow as pa
from hypothesis import HealthCheck, example, given, settings, strategies as st

import idr
from idr.api.strhash import hash_column, hash_one
from idr.lookup.common import normalise, published
from idr.normalize.values import ValueNormaliser

EDGES = ["", " ", "\t", "\n", "\x0b", "\x0c", "\r", "\xa0", "\x01", "@", ".", "+", "-", "(", ")", "%", "_",
         "İ", "ß", "ŉ", "ǰ", "é", "É", "Å", "\u0301", "e\u0301", "\u212b", "ﬁ", "Σ", "ς"]
text = st.lists(st.one_of(st.sampled_from(EDGES + list("aAbZ09@.gmailcom")),
                          st.characters(max_codepoint=0x3FF, exclude_categories=("Cs",)),
                          st.characters(codec="utf-8", exclude_categories=("Cs",))), max_size=24).map("".join)

CANONICALISERS = ["NONE", "TRIM", "LOWERCASE", "UPPERCASE", "EMAIL", "EMAIL_GMAIL", "DIGITS", "PHONE"]


def test_served_config_is_the_run_s(demo_source):
    con = idr.open_results(demo_source)
    [(snapshot,)] = con.execute("SELECT config_snapshot FROM idr_out.run_history").fetchall()
    n = ValueNormaliser.from_snapshot_json(snapshot)
    assert {t: r.canonicalize for t, r in n.rules.items()} == {"EMAIL": "EMAIL", "PHONE": "PHONE",
                                                                "LOYALTY_ID": "UPPERCASE"}
    assert n.region == "US" and "n/a" in n.placeholders and "test@test.com" in n.exact["EMAIL"]
    assert json.loads(snapshot)["exclusions"]


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(text, min_size=10, max_size=60))
# DuckDB's nfc_normalize cut a non-ASCII value at a NUL: the run made '\x00İ' a placeholder ('').
@example(values=["\x00İ", "a\x00É\u0301b@x.com", "\x00", "İ\x00"] * 3)
def test_same_answer_as_the_pipeline(demo_source, values):
    with published(str(demo_source)) as (con, plan):
        for canon in CANONICALISERS:
            plan.rules["EMAIL"] = plan.rules["EMAIL"].model_copy(update={"canonicalize": canon})
            config = plan.config.model_copy(update={"rules": [r.model_copy(update={"canonicalize": canon})
                                                              if r.identifier_type == "EMAIL" else r
                                                              for r in plan.config.rules]})
            ours = ValueNormaliser.from_config(config)
            want = normalise(con, plan, [(i, "EMAIL", v) for i, v in enumerate(values)])
            for _, _, raw, norm, status in want:
                got = ours.normalise("EMAIL", raw)
                assert got == ((norm, "ok") if status == "ok" else (None, status)), (canon, raw)


@given(st.lists(st.text(max_size=40), max_size=50))
def test_string_hash_is_the_same_per_value_and_per_column(values):
    column = hash_column(pa.array(values, pa.string()))
    assert [int(h) for h in column] == [hash_one(v) for v in values]
