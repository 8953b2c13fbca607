"""PHONE normalisation: the SQL fast path must give exactly what phonenumbers gives.

The oracle is phone_slow (phonenumbers.parse + is_valid_number + E164). Values normalize_phones
sends to the slow path are phone_slow by construction, so the interesting claim is about the
values the fast path decides: the property test and the bulk check compare all of them.
"""

from __future__ import annotations

import multiprocessing
import os
import random
from concurrent.futures import ProcessPoolExecutor

import duckdb
import phonenumbers
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from idr.errors import ConfigError
from idr.normalize.phone import PhoneStats, normalize_phones, phone_fast_sql, phone_slow

# US/CA share +1 (CA is not the code's main region); GB, DE, FR use a '0' national prefix;
# BR's national prefix has a transform rule.
PROPERTY_REGIONS = ["US", "GB", "DE", "FR", "CA", "BR"]
BULK_REGIONS = ["US", "GB", "DE", "FR"]
BULK_N = int(os.environ.get("IDR_PHONE_BULK_N", "200000"))


def normalize(values: list[str | None], region: str) -> tuple[dict, PhoneStats]:
    con = duckdb.connect()
    con.register("vals", pa.table({"raw": pa.array(values, pa.string())}))
    con.execute("CREATE TEMP TABLE phone_in AS SELECT DISTINCT raw FROM vals")
    stats = normalize_phones(con, "phone_in", "phone_out", region)
    return dict(con.execute("SELECT raw, norm FROM phone_out").fetchall()), stats


def fast_sql(values: list[str], region: str, col: str = "raw") -> dict:
    """raw -> (decided, e164) from phone_fast_sql."""
    con = duckdb.connect()
    con.register("vals", pa.table({"raw": pa.array(values, pa.string())}))
    decided, e164 = phone_fast_sql(col, region)
    rows = con.execute(f"SELECT raw, {decided}, {e164} FROM vals").fetchall()
    return {raw: (d, e) for raw, d, e in rows}


# --- known cases ------------------------------------------------------------------------------

US_FORMATS = ["(650) 253-0000", "650-253-0000", "650.253.0000", "6502530000",
              "+1 650 253 0000", "1-650-253-0000", "+1 (650) 253-0000", "+16502530000"]


def test_valid_us_number_in_every_format_gives_one_e164():
    got, stats = normalize(US_FORMATS, "US")
    assert set(got.values()) == {"+16502530000"}
    assert stats == PhoneStats(total=len(US_FORMATS), fast=len(US_FORMATS), slow=0, invalid=0)
    assert phone_slow(US_FORMATS, "US") == ["+16502530000"] * len(US_FORMATS)


def test_invalid_values_give_null():
    bad = ["555-1234", "(555) 555-5555", "123-456-7890", "000-000-0000", "123", "", "   ",
           "abc", "+1", "650-253-000", "650-253-00000", "+1 650 253 0000 0000 0000", None]
    got, stats = normalize(bad, "US")
    assert all(v is None for v in got.values())
    assert stats.invalid == stats.total == len(bad)
    # The common shapes among them are decided in SQL, not by phonenumbers.
    decided = fast_sql(["555-1234", "(555) 555-5555", "123-456-7890", "650-253-000"], "US")
    assert all(d and e is None for d, e in decided.values())


def test_gb_number_with_region_us_parses_only_with_plus_44():
    got, _ = normalize(["+44 20 7946 0958", "020 7946 0958", "44 20 7946 0958"], "US")
    assert got == {"+44 20 7946 0958": "+442079460958", "020 7946 0958": None,
                   "44 20 7946 0958": None}
    got, _ = normalize(["+44 20 7946 0958", "020 7946 0958", "(020) 7946-0958"], "GB")
    assert set(got.values()) == {"+442079460958"}


def test_fast_sql_decides_common_shapes_and_leaves_the_rest():
    values = US_FORMATS + ["555-1234", "650 253 0000 ext 12", "011 44 20 7946 0958",
                           "+44 20 7946 0958", "Tel: 650-253-0000", "６５０-２５３-００００"]
    got = fast_sql(values, "US")
    assert all(got[v] == (True, "+16502530000") for v in US_FORMATS)
    assert got["555-1234"] == (True, None)
    for undecided in values[len(US_FORMATS) + 1:]:
        assert got[undecided] == (False, None)
    # Any VARCHAR expression works, not only a column.
    assert fast_sql(["  650-253-0000 "], "US", col="trim(raw)")["  650-253-0000 "] \
        == (True, "+16502530000")


def test_out_table_is_temp_with_one_row_per_input_and_consistent_counts():
    con = duckdb.connect()
    con.execute("CREATE TABLE phone_in AS SELECT * FROM (VALUES ('650-253-0000'), "
                "('+44 20 7946 0958'), ('nope'), (NULL)) t(raw)")
    stats = normalize_phones(con, "phone_in", "phone_out", "US")
    # +44 and "nope" go to phonenumbers; a NULL raw is decided (invalid) in SQL.
    assert stats == PhoneStats(total=4, fast=2, slow=2, invalid=2)
    assert con.execute("SELECT column_name, data_type FROM duckdb_columns() "
                       "WHERE table_name = 'phone_out' ORDER BY column_index").fetchall() \
        == [("raw", "VARCHAR"), ("norm", "VARCHAR")]
    assert con.execute("SELECT temporary FROM duckdb_tables() "
                       "WHERE table_name = 'phone_out'").fetchall() == [(True,)]
    # Running again replaces the table.
    assert normalize_phones(con, "phone_in", "phone_out", "US").total == 4


def test_values_are_data_not_sql():
    values = ["650'253'0000", "'); DROP TABLE phone_in; --", "650-253-0000 '", "\"x\""]
    got, _ = normalize(values, "US")
    assert [got[v] for v in values] == phone_slow(values, "US")


@pytest.mark.parametrize("region", ["XX", "us", "", "U'S", "001", None])
def test_unsupported_region_is_a_config_error(region):
    con = duckdb.connect()
    con.execute("CREATE TABLE phone_in(raw VARCHAR)")
    calls = [lambda: normalize_phones(con, "phone_in", "phone_out", region),
             lambda: phone_fast_sql("raw", region), lambda: phone_slow(["1"], region)]
    for call in calls:
        with pytest.raises(ConfigError) as err:
            call()
        assert "phone_default_region" in str(err.value) and repr(region) in str(err.value)


# --- property: random strings of realistic pieces ---------------------------------------------

_DIGITS = "0123456789"
_FULLWIDTH = str.maketrans(_DIGITS, "０１２３４５６７８９")
_ARABIC_INDIC = str.maketrans(_DIGITS, "٠١٢٣٤٥٦٧٨٩")
_PREFIXES = ["", "", "+1", "+1 ", "1", "1-", "+44", "+44 ", "44", "0", "+49", "49", "+33", "011",
             "011 44", "00", "0033", "+55", "+", "++1", "(+1)", "01", "1 1", "+0"]
_SEPARATORS = ["", " ", "-", ".", "(", ")", ") ", " - "]
_ODD_SEPARATORS = _SEPARATORS + ["  ", "/", "\t", "\u00a0", ". ", "\n"]
_TAILS = ["", " ext 12", "x5", " #3", "ABC", "a", ";ext=7", ",,9", " ", "-", ".", "\n", " (home)"]
_LEADS = ["", " ", "Tel: ", "(", "+", "-", "tel:"]
_AREAS = ["555", "650", "201", "212", "416", "268", "800", "900", "20", "30", "89", "151",
          "7911", "11", "21", "6", "1", "0"]


@st.composite
def phone_strings(draw) -> str:
    """Realistic pieces: prefixes (+1, 1, +44, 011, 0, ...), area codes valid and not (0xx,
    1xx, 555, unassigned), digit runs of 5-14 and separators; one value in three also gets
    odd pieces: leading text, letters, extensions, other whitespace, unicode digits."""
    odd = draw(st.integers(0, 2)) == 0
    seps = st.sampled_from(_ODD_SEPARATORS if odd else _SEPARATORS)
    area = draw(st.one_of(st.sampled_from(_AREAS),
                          st.tuples(st.sampled_from("01"), st.text(_DIGITS, min_size=2,
                                                                   max_size=2)).map("".join),
                          st.text(_DIGITS, min_size=1, max_size=4)))
    if draw(st.booleans()):
        area = f"({area})"
    body = draw(st.one_of(st.text(_DIGITS, min_size=7, max_size=8),
                          st.text(_DIGITS, min_size=5, max_size=14)))
    cut = draw(st.integers(0, len(body)))
    s = "".join([draw(st.sampled_from(_PREFIXES)), draw(seps), area, draw(seps), body[:cut],
                 draw(seps), body[cut:]])
    if odd:
        s = draw(st.sampled_from(_LEADS)) + s + draw(st.sampled_from(_TAILS))
        digits = draw(st.sampled_from([None, None, _FULLWIDTH, _ARABIC_INDIC]))
        s = s.translate(digits) if digits else s
    return s


def _example_numbers(region: str) -> list[str]:
    types = [phonenumbers.PhoneNumberType.FIXED_LINE, phonenumbers.PhoneNumberType.MOBILE,
             phonenumbers.PhoneNumberType.TOLL_FREE]
    return [phonenumbers.national_significant_number(ex) for t in types
            if (ex := phonenumbers.example_number_for_type(region, t))]


_EXAMPLES = [(r, n) for r in PROPERTY_REGIONS for n in _example_numbers(r)]


@st.composite
def example_based_strings(draw) -> str:
    """A real number of one of the regions (tail randomised), written as people do."""
    region, nsn = draw(st.sampled_from(_EXAMPLES))
    md = phonenumbers.PhoneMetadata.metadata_for_region(region)
    keep = draw(st.integers(2, len(nsn)))
    nsn = nsn[:keep] + draw(st.text(_DIGITS, min_size=len(nsn) - keep, max_size=len(nsn) - keep))
    cut = draw(st.integers(1, len(nsn) - 1))
    number = nsn[:cut] + draw(st.sampled_from(_SEPARATORS)) + nsn[cut:]
    cc = str(md.country_code)
    lead = draw(st.sampled_from(["", md.national_prefix or "", f"+{cc}", f"+{cc} ", cc, f"{cc}-",
                                 f"({md.national_prefix or ''})", "00" + cc, "011 " + cc]))
    return lead + number


@pytest.mark.parametrize("region", PROPERTY_REGIONS)
@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(values=st.lists(st.one_of(phone_strings(), example_based_strings()), min_size=1,
                       max_size=150))
def test_normalize_phones_equals_phonenumbers_on_random_strings(region, values):
    got, stats = normalize(values, region)
    assert [got[v] for v in values] == phone_slow(values, region)
    assert stats.fast + stats.slow == stats.total == len(set(values))


# --- bulk: ~200k seeded values per region -----------------------------------------------------


def _realistic(rng: random.Random, bases: list[str], cc: str, national_prefix: str) -> str:
    """A number as people write it: a real-looking national number (an example number of the
    region with its tail randomised, now and then broken), in national or international form."""
    nsn = rng.choice(bases)
    keep = rng.randint(2, len(nsn) - 2)
    nsn = nsn[:keep] + "".join(rng.choices(_DIGITS, k=len(nsn) - keep))
    if rng.random() < 0.04:  # broken: a digit changed, dropped or added
        i = rng.randrange(len(nsn))
        nsn = rng.choice([nsn[:i] + rng.choice(_DIGITS) + nsn[i + 1:], nsn[:i] + nsn[i + 1:],
                          nsn + rng.choice(_DIGITS)])
    cuts = sorted(rng.sample(range(1, len(nsn)), k=rng.randint(0, 3)))
    groups = [nsn[a:b] for a, b in zip([0, *cuts], [*cuts, len(nsn)])]
    if len(groups) > 1 and rng.random() < 0.3:
        groups[0] = f"({groups[0]})"
    number = rng.choice(" -.").join(groups) if rng.random() < 0.9 else "".join(groups)
    form = rng.random()
    if form < 0.45:
        return national_prefix + number
    if form < 0.55:
        return number
    if form < 0.85:
        return f"+{cc} {number}" if rng.random() < 0.7 else f"+{cc}{number}"
    if form < 0.95:
        return f"{cc} {number}"
    return f"{'011' if cc == '1' else '00'}{cc} {number}"  # dialled with an IDD


def _garbage(rng: random.Random) -> str:
    digits = "".join(rng.choices(_DIGITS, k=rng.randint(1, 16)))
    cut = rng.randint(0, len(digits))
    seps = rng.choices(_SEPARATORS, k=3)
    s = "".join([rng.choice(_LEADS), rng.choice(_PREFIXES), seps[0], rng.choice(_AREAS),
                 seps[1], digits[:cut], seps[2], digits[cut:], rng.choice(_TAILS)])
    return s.translate(_FULLWIDTH) if rng.random() < 0.05 else s


def bulk_values(region: str, n: int, seed: int) -> tuple[list[str], set[str]]:
    """n distinct values, ~90% realistic; returns (values, the realistic ones)."""
    rng = random.Random(f"{seed}-{region}")
    md = phonenumbers.PhoneMetadata.metadata_for_region(region)
    bases = _example_numbers(region)
    cc, national_prefix = str(md.country_code), md.national_prefix or ""
    realistic: set[str] = set()
    values: dict[str, None] = {}
    while len(values) < n:
        if rng.random() < 0.9:
            v = _realistic(rng, bases, cc, national_prefix)
            if v not in values:
                realistic.add(v)
        else:
            v = _garbage(rng)
        values.setdefault(v)
    return list(values), realistic


@pytest.fixture(scope="module")
def oracle():
    """phone_slow over all cores: phonenumbers is the bottleneck of the bulk check."""
    workers = min(os.cpu_count() or 1, 8)
    if workers == 1:
        yield phone_slow
        return
    ctx = multiprocessing.get_context("spawn")  # never fork a process running DuckDB threads
    with ProcessPoolExecutor(workers, mp_context=ctx) as pool:

        def run(values: list[str], region: str) -> list[str | None]:
            size = -(-len(values) // (workers * 4)) or 1
            chunks = [values[i:i + size] for i in range(0, len(values), size)]
            parts = pool.map(phone_slow, chunks, [region] * len(chunks))
            return [e164 for part in parts for e164 in part]

        yield run


@pytest.mark.slow
@pytest.mark.parametrize("region", BULK_REGIONS)
def test_bulk_fast_path_equals_phonenumbers(region, oracle):
    values, realistic = bulk_values(region, BULK_N, seed=20240601)
    fast = fast_sql(values, region)
    decided = [v for v in values if fast[v][0]]
    expected = dict(zip(decided, oracle(decided, region)))
    assert {v: fast[v][1] for v in decided} == expected
    # normalize_phones takes the same decisions; on decided values it never needs the slow path.
    got, stats = normalize(decided, region)
    assert stats.slow == 0 and got == expected
    share = sum(1 for v in realistic if fast[v][0]) / len(realistic)
    print(f"\n{region}: fast path decided {len(decided) / len(values):.1%} of {len(values)} "
          f"values and {share:.1%} of the {len(realistic)} realistic ones")
    assert share > 0.9
