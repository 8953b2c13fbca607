"""`idr demo`: a realistic little world of customer records, configured and resolved.

Four sources describe the same people differently: a CRM, an order system, a loyalty
programme and web sign-ups. Emails come in different cases and with stray spaces, phones
in every format, some values are placeholders ('N/A', 'unknown'), many people typed the
generic test@test.com, and a few households chain together through shared phones.
The sources also carry names, addresses, birth dates and loyalty points, which the golden
profiles configured below (mixed strategies, an address group) turn into one best view
per customer.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa

FIRST = ["james", "mary", "john", "patricia", "robert", "jennifer", "michael", "linda", "william", "elizabeth",
         "david", "barbara", "richard", "susan", "joseph", "jessica", "thomas", "sarah", "charles", "karen",
         "zoë", "josé", "françois", "mårten", "o'brien"]
LAST = ["smith", "johnson", "williams", "brown", "jones", "garcia", "miller", "davis", "rodriguez", "martinez",
        "hernandez", "lopez", "gonzalez", "wilson", "anderson", "thomas", "taylor", "moore", "jackson", "martin"]
DOMAINS = ["gmail.com", "yahoo.com", "outlook.com", "icloud.com", "example.org", "acme.co", "hotmail.com"]
AREA = ["212", "305", "312", "415", "617", "646", "702", "713", "206", "303", "404", "512"]
PLACEHOLDERS = ["N/A", "unknown", "", "null", "0000000000"]
STORE_PHONE = "(800) 275-2273"  # typed in by cashiers for many customers: a generic identifier
INVALID_PHONES = ["555-1234", "123", "(000) 000-0001", "+1 999 999 9999"]

DEMO_CONFIG = {
    "sources": [
        {"table_id": "crm", "table_fqn": "crm_customers", "entity_key_expr": "customer_id",
         "watermark_column": "updated_at", "identifiers": [
             {"identifier_type": "EMAIL", "identifier_value_expr": "email"},
             {"identifier_type": "PHONE", "identifier_value_expr": "phone"}]},
        {"table_id": "orders", "table_fqn": "orders", "entity_key_expr": "order_id",
         "watermark_column": "updated_at", "identifiers": [
             {"identifier_type": "EMAIL", "identifier_value_expr": "customer_email"},
             {"identifier_type": "PHONE", "identifier_value_expr": "contact_phone"}]},
        {"table_id": "loyalty", "table_fqn": "loyalty_members", "entity_key_expr": "member_id",
         "watermark_column": "updated_at", "identifiers": [
             {"identifier_type": "LOYALTY_ID", "identifier_value_expr": "card_number"},
             {"identifier_type": "EMAIL", "identifier_value_expr": "email"}]},
        {"table_id": "web", "table_fqn": "web_signups", "entity_key_expr": "signup_id",
         "watermark_column": "created_at", "identifiers": [
             {"identifier_type": "EMAIL", "identifier_value_expr": "email"},
             {"identifier_type": "LOYALTY_ID", "identifier_value_expr": "loyalty_card"}]},
    ],
    "rules": [
        {"rule_id": "email", "identifier_type": "EMAIL", "canonicalize": "EMAIL", "max_group_size": 50,
         "priority": 1},
        {"rule_id": "phone", "identifier_type": "PHONE", "canonicalize": "PHONE", "max_group_size": 20,
         "priority": 2},
        {"rule_id": "loyalty", "identifier_type": "LOYALTY_ID", "canonicalize": "UPPERCASE",
         "max_group_size": 5, "priority": 3},
    ],
    "exclusions": [
        {"identifier_type": "EMAIL", "identifier_value_pattern": "test@test.com", "reason": "Generic test"},
        {"identifier_type": "EMAIL", "identifier_value_pattern": "%@example.org", "is_pattern": True,
         "reason": "Example domain"},
        {"identifier_type": "EMAIL", "identifier_value_pattern": "noreply@%", "is_pattern": True,
         "reason": "No-reply"},
    ],
    "config": {"large_cluster_threshold": "25"},
    # Golden profiles (docs/golden-profiles.md): lower trust_rank = more trusted.
    "survivorship": [
        {"attribute_name": "first_name", "strategy": "SOURCE_PRIORITY + MOST_RECENT"},
        {"attribute_name": "last_name", "strategy": "SOURCE_PRIORITY"},
        {"attribute_name": "street", "strategy": "MOST_RECENT", "attribute_group": "address"},
        {"attribute_name": "city", "strategy": "MOST_RECENT", "attribute_group": "address"},
        {"attribute_name": "postcode", "strategy": "MOST_RECENT", "attribute_group": "address"},
        {"attribute_name": "birth_date", "strategy": "MOST_FREQUENT"},
        {"attribute_name": "loyalty_points", "strategy": "MAX"},
        {"attribute_name": "largest_order", "strategy": "MAX"},
        {"attribute_name": "best_email", "strategy": "MOST_FREQUENT", "identifier_type": "EMAIL"},
        {"attribute_name": "best_phone", "strategy": "MOST_RECENT", "identifier_type": "PHONE"},
    ],
}
_ATTRIBUTES = {  # table_id -> (trust, [(attribute, expression)])
    "crm": ({"source_name": "CRM", "trust_rank": 1},
            [("first_name", "initcap(first_name)"), ("last_name", "initcap(last_name)"), ("street", "street"),
             ("city", "city"), ("postcode", "postcode"), ("birth_date", "birth_date")]),
    "loyalty": ({"source_name": "Loyalty programme", "trust_rank": 2},
                [("first_name", "given_name"), ("street", "street"), ("city", "city"), ("postcode", "postcode"),
                 ("loyalty_points", "points")]),
    "web": ({"source_name": "Web sign-ups", "trust_rank": 3},
            [("first_name", "first_name"), ("birth_date", "birth_date")]),
    "orders": ({"source_name": "Orders", "trust_rank": 4},
               [("street", "ship_street"), ("city", "ship_city"), ("postcode", "ship_postcode"),
                ("largest_order", "amount")]),
}
for _s in DEMO_CONFIG["sources"]:
    _s["trust"] = _ATTRIBUTES[_s["table_id"]][0]
    _s["attributes"] = [{"attribute_name": a, "attribute_expr": e} for a, e in _ATTRIBUTES[_s["table_id"]][1]]
CITIES = [("Springfield", "62701"), ("Riverside", "92501"), ("Fairview", "37062"), ("Madison", "53703"),
          ("Georgetown", "78626"), ("Salem", "97301"), ("Clinton", "52732"), ("Ashland", "41101")]
STREETS = ["Main St", "Oak Ave", "Maple Dr", "Cedar Ln", "Pine Rd", "Elm St", "Lakeview Blvd", "Hill St"]


def _messy_email(rng: random.Random, email: str) -> str:
    r = rng.random()
    if r < 0.15:
        return email.upper()
    if r < 0.25:
        return f"  {email.title()} "
    return email


def _messy_phone(rng: random.Random, digits: str) -> str:
    a, b, c = digits[:3], digits[3:6], digits[6:]
    return rng.choice([f"({a}) {b}-{c}", f"{a}.{b}.{c}", f"+1 {a} {b} {c}", f"{a}{b}{c}", f"1-{a}-{b}-{c}"])


def _address(arng: random.Random) -> dict:
    city, postcode = arng.choice(CITIES)
    return {"street": f"{arng.randint(1, 999)} {arng.choice(STREETS)}", "city": city, "postcode": postcode}


def generate(persons: int, seed: int) -> dict[str, pa.Table]:
    rng = random.Random(seed)
    # Attributes draw from their own generator, so the identifiers (and every count the
    # docs show) are the same as without them.
    arng = random.Random(seed * 7919 + 1)
    base = datetime(2026, 1, 1)
    rows: dict[str, list[dict]] = {"crm_customers": [], "orders": [], "loyalty_members": [], "web_signups": []}
    household_phone = None
    for p in range(persons):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        email = f"{first}.{last}{p}@{rng.choice(DOMAINS)}".replace("'", "")
        phone = rng.choice(AREA) + str(rng.randint(200, 999)) + f"{rng.randint(0, 9999):04d}"
        # Every 40th person shares a phone with the previous one: households that chain.
        if p % 40 == 1 and household_phone:
            phone = household_phone
        household_phone = phone
        card = f"lc{p:07d}"
        ts = base + timedelta(minutes=rng.randint(0, 60 * 24 * 300))
        home, moved = _address(arng), _address(arng)  # some people moved: newer records have the new address
        born = datetime(1950, 1, 1).date() + timedelta(days=arng.randint(0, 365 * 50))
        if rng.random() < 0.8:
            addr = home if arng.random() < 0.9 else {**home, "postcode": None}  # a few incomplete addresses
            rows["crm_customers"].append({
                "customer_id": f"C{p:06d}", "first_name": first, "last_name": last,
                "email": _messy_email(rng, email) if rng.random() < 0.9 else rng.choice(PLACEHOLDERS),
                "phone": _messy_phone(rng, phone) if rng.random() < 0.85 else rng.choice(PLACEHOLDERS),
                "updated_at": ts, **addr, "birth_date": born if arng.random() < 0.8 else None})
        for _ in range(rng.choice([0, 1, 1, 2, 3])):
            r = rng.random()
            # Some orders carry the store's own phone or a number that cannot exist.
            contact = STORE_PHONE if r < 0.02 else rng.choice(INVALID_PHONES) if r < 0.04 else \
                _messy_phone(rng, phone) if r < 0.5 else None
            ship = moved if arng.random() < 0.3 else home
            rows["orders"].append({
                "order_id": len(rows["orders"]) + 100000,
                "customer_email": "test@test.com" if rng.random() < 0.05 else _messy_email(rng, email),
                "contact_phone": contact,
                "amount": round(rng.uniform(5, 500), 2), "updated_at": ts + timedelta(days=rng.randint(0, 30)),
                "ship_street": ship["street"], "ship_city": ship["city"], "ship_postcode": ship["postcode"]})
        if rng.random() < 0.4:
            rows["loyalty_members"].append({
                "member_id": f"L{p:06d}", "card_number": card.upper() if rng.random() < 0.5 else card,
                "email": _messy_email(rng, email) if rng.random() < 0.7 else None, "updated_at": ts,
                "given_name": arng.choice([first.title(), first[:3].title(), ""]), "points": arng.randint(0, 5000),
                **(home if arng.random() < 0.8 else {"street": None, "city": home["city"], "postcode": None})})
        if rng.random() < 0.5:
            rows["web_signups"].append({
                "signup_id": f"W{p:06d}", "email": _messy_email(rng, email),
                "loyalty_card": f" {card} " if rng.random() < 0.3 else None, "created_at": ts,
                "first_name": arng.choice([first, first.upper(), " "]),
                "birth_date": born if arng.random() < 0.5 else born + timedelta(days=1)})
    return {name: pa.Table.from_pylist(r) for name, r in rows.items()}


def _is_demo_database(path: Path) -> bool:
    """True if the file is a database an earlier `idr demo` made (its four sample tables)."""
    from .backends.duckdb import DuckDBBackend
    from .errors import IdrError

    try:
        backend = DuckDBBackend.open(path, create=False, read_only=True)
    except IdrError:
        return False
    try:
        return backend.scalar("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main' AND "
                              "table_name IN ('crm_customers', 'orders', 'loyalty_members', 'web_signups')") == 4
    finally:
        backend.close()


def run_demo(db: str, *, persons: int = 2000, seed: int = 7) -> int:
    from .backends.duckdb import DuckDBBackend
    from .config.meta import write_config
    from .config.models import Config
    from .config.validate import build_plan
    from .runs.runner import run
    from .runs.summary import format_summary
    from .schema import ensure_schema

    if persons <= 0:
        from .errors import InputError

        raise InputError(f"--persons {persons}: must be a positive integer")
    path = Path(db)
    if path.exists() and not _is_demo_database(path):
        from .errors import InputError

        raise InputError(f"--db {db}: exists and was not made by `idr demo`; refusing to replace it "
                         "(choose another --db or delete the file)")
    for p in (path, Path(f"{db}.wal")):
        if p.exists():
            p.unlink()
    backend = DuckDBBackend.open(db)
    try:
        for name, table in generate(persons, seed).items():
            backend.from_arrow("demo_rows", table)
            backend.create_table(f'"{name}"', "SELECT * FROM demo_rows")
            backend.release_arrow("demo_rows")
        ensure_schema(backend)
        cfg = Config.model_validate(DEMO_CONFIG)
        build_plan(backend, cfg)
        with backend.transaction():
            write_config(backend, cfg)
        counts = {n: backend.scalar(f'SELECT count(*) FROM "{n}"')
                  for n in ("crm_customers", "orders", "loyalty_members", "web_signups")}
    finally:
        backend.close()
    print(f"created {db}: " + ", ".join(f"{n} {c:,} rows" for n, c in counts.items()))
    result = run(db, "FULL")
    print(format_summary(result, db))
    print("Try next:")
    for hint in next_steps(db):
        print(f"  {hint}")
    from .backends.duckdb import open_database

    con = open_database(db, create=False, read_only=True)
    try:  # two records of one of the largest clusters, far apart
        a, b = con.execute("SELECT min(entity_key), max(entity_key) FROM idr_out.identity_resolved_membership_current "
                           "WHERE resolved_id = (SELECT resolved_id FROM idr_out.identity_clusters_current "
                           "ORDER BY cluster_size DESC, resolved_id LIMIT 1)").fetchall()[0]
    finally:
        con.close()
    from .hints import idr_command

    print(f"  {idr_command('show', a, db=db)}  # the cluster's members and golden profile")
    print(f"  {idr_command('explain', a, b, db=db)}  # why two records are linked")
    return 0


def next_steps(db: str) -> list[str]:
    """The commands `idr demo` suggests, each ready to paste (comments after `#`)."""
    from .hints import idr_command, python_command

    show_skipped = (f"import duckdb; print(duckdb.connect({db!r}, read_only=True)"
                    ".sql('SELECT * FROM idr_out.skipped_identifier_groups'))")
    steps = [(idr_command("runs", db=db), ""),
             (idr_command("run", "--run-mode", "INCR", db=db), "only what changed since this run"),
             (idr_command("run", "--run-mode", "FULL", "--dry-run", db=db), "preview, publish nothing"),
             (python_command(show_skipped), "")]
    width = max(len(cmd) for cmd, note in steps if note)
    return [f"{cmd:<{width}}  # {note}" if note else cmd for cmd, note in steps]
