"""The masking job on a REAL PostgreSQL server: a throwaway cluster (initdb into tmp, pg_ctl on a free port, stopped
at the end), the application schema with foreign keys and unique constraints, production-like data; after masking,
queries prove that no original value remains anywhere, formats are kept, and every constraint still holds."""
from __future__ import annotations

import glob
import os
import re
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Iterator

import pytest

from pipeline import masking

SCHEMA = """
CREATE TABLE customers (
    id serial PRIMARY KEY,
    email text NOT NULL UNIQUE,
    full_name text NOT NULL,
    phone text UNIQUE,
    notes text,
    CHECK (email LIKE '%_@_%._%')
);
CREATE TABLE orders (
    id serial PRIMARY KEY,
    customer_email text NOT NULL REFERENCES customers(email),
    shipping_name text,
    shipping_phone text,
    gift_message text,
    total_cents integer NOT NULL
);
CREATE TABLE support_tickets (
    id serial PRIMARY KEY,
    customer_id integer NOT NULL REFERENCES customers(id),
    contact_email text REFERENCES customers(email),
    contact_name text,
    body text NOT NULL
);
"""

CUSTOMERS = [
    ("alice.smith@gmail.com", "Alice Smith", "+1 (555) 010-2030", "VIP, prefers calls after 6pm"),
    ("bob@contoso.co.uk", "Bob O'Neil", "+44 20 7946 0958", "asked for invoice copies"),
    ("carol.jones@example.org", "Carol Ann Jones", "555-0199", None),
    ("dave@acme.io", "Dave", None, "lives at 12 Elm Street"),
] + [(f"user{i}@corp{i % 7}.com", f"First{i} Last{i}", f"+1 555 {i:03d} {i * 7 % 10000:04d}", f"note {i}")
     for i in range(200)]


def _pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found and shutil.which("initdb"):
        return Path(shutil.which("initdb")).parent  # type: ignore[arg-type]
    if not found:
        pytest.fail("PostgreSQL server binaries (initdb, pg_ctl) are not installed: apt-get install postgresql",
                    pytrace=False)
    return Path(found[-1]).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A throwaway PostgreSQL cluster: its DSN; stopped (by pg_ctl, its own data dir) at the end."""
    import psycopg  # a hard requirement of the dev extra

    bindir = _pg_bin()
    # directly under /tmp: pytest's tmp folders are private to root, which PostgreSQL may not run as
    root = Path(tempfile.mkdtemp(prefix="masking-pg-", dir="/tmp"))
    data, sock = root / "data", root / "sock"
    sock.mkdir()
    env = {**os.environ, "LC_ALL": "C.UTF-8"}
    run_as: list[str] = []
    if os.geteuid() == 0:  # initdb refuses to run as root: use an unprivileged account
        user = next((u for u in ("postgres", "nobody") if _user_exists(u)), None)
        assert user, "no unprivileged user to run PostgreSQL as"
        shutil.chown(root, user)
        shutil.chown(sock, user)
        run_as = ["runuser", "-u", user, "--"]
    init = subprocess.run([*run_as, str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust",
                           "-E", "UTF8", "--no-sync"], capture_output=True, text=True, env=env)
    assert init.returncode == 0, init.stdout + init.stderr
    port = _free_port()
    log = root / "pg.log"
    started = subprocess.run([*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60",
                              "-o", f"-p {port} -k {sock} -c listen_addresses=127.0.0.1 -c fsync=off", "start"],
                             capture_output=True, text=True, env=env)
    assert started.returncode == 0, started.stdout + started.stderr + (log.read_text() if log.exists() else "")
    dsn = f"host=127.0.0.1 port={port} user=postgres dbname=postgres"
    try:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("CREATE DATABASE app")
        yield f"host=127.0.0.1 port={port} user=postgres dbname=app"
    finally:
        subprocess.run([*run_as, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                       capture_output=True, env=env)
        shutil.rmtree(root, ignore_errors=True)


def _user_exists(name: str) -> bool:
    import pwd

    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def _load(conn: Any) -> None:
    conn.execute("DROP TABLE IF EXISTS support_tickets, orders, customers")
    conn.execute(SCHEMA)
    with conn.cursor() as cur:
        for email, name, phone, notes in CUSTOMERS:
            cur.execute("INSERT INTO customers (email, full_name, phone, notes) VALUES (%s, %s, %s, %s)",
                        (email, name, phone, notes))
        cur.execute("SELECT id, email, full_name, phone FROM customers ORDER BY id")
        for cid, email, name, phone in cur.fetchall():
            for n in range(2):
                cur.execute("INSERT INTO orders (customer_email, shipping_name, shipping_phone, gift_message, "
                            "total_cents) VALUES (%s, %s, %s, %s, %s)",
                            (email, name, phone, f"Happy birthday {name}!" if n else None, 1000 + cid))
            cur.execute("INSERT INTO support_tickets (customer_id, contact_email, contact_name, body) "
                        "VALUES (%s, %s, %s, %s)", (cid, email if cid % 3 else None, name,
                                                     f"{name} ({email}, {phone}) cannot log in"))
    conn.commit()


def _all_text(conn: Any) -> list[str]:
    """Every text value of every table, as one list."""
    values: list[str] = []
    for table in ("customers", "orders", "support_tickets"):
        cur = conn.execute(f"SELECT * FROM {table}")
        for row in cur.fetchall():
            values += [v for v in row if isinstance(v, str)]
    return values


@pytest.fixture()
def masked(postgres: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, masking.MaskReport]]:
    import psycopg

    monkeypatch.setenv("MASKING_KEY", "test-key-0123456789abcdef")
    with psycopg.connect(postgres) as conn:
        _load(conn)
        rules = masking.load_rules()  # the shipped rules file
        report = masking.mask_database(conn, rules, masking.key_from_env(rules), say=lambda _m: None)
        yield conn, report


def test_no_original_personal_value_remains_anywhere(masked: tuple[Any, masking.MaskReport]) -> None:
    conn, report = masked
    text = "\n".join(_all_text(conn))
    for email, name, phone, notes in CUSTOMERS:
        assert email not in text
        assert name not in text
        if phone:
            assert phone not in text
            assert re.sub(r"\D", "", phone) not in re.sub(r"\D", "", text) or len(re.sub(r"\D", "", phone)) < 8
        if notes:
            assert notes not in text
    # free text is gone: notes and gift messages NULL, ticket bodies (NOT NULL) redacted
    assert conn.execute("SELECT count(*) FROM customers WHERE notes IS NOT NULL").fetchone()[0] == 0
    assert conn.execute("SELECT count(*) FROM orders WHERE gift_message IS NOT NULL").fetchone()[0] == 0
    assert conn.execute("SELECT DISTINCT body FROM support_tickets").fetchall() == [("[redacted]",)]
    assert report.foreign_keys_checked == 3


def test_formats_are_preserved(masked: tuple[Any, masking.MaskReport]) -> None:
    conn, _ = masked
    rows = conn.execute("SELECT email, full_name, phone FROM customers ORDER BY id").fetchall()
    originals = CUSTOMERS
    for (email, name, phone), (o_email, o_name, o_phone, _) in zip(rows, originals):
        assert re.fullmatch(r"u[0-9a-f]{16}@example\.com", email), email
        assert len(name.split()) == len(o_name.split()) and all(w[0].isupper() for w in name.split())
        if o_phone is None:
            assert phone is None
        else:
            assert re.sub(r"\d", "9", phone) == re.sub(r"\d", "9", o_phone), (phone, o_phone)
            assert phone != o_phone


def test_referential_integrity_and_constraints_hold(masked: tuple[Any, masking.MaskReport]) -> None:
    conn, _ = masked
    # the same customer is still joined the same way: order emails and ticket emails follow the customer's email
    joined = conn.execute("SELECT count(*) FROM orders o JOIN customers c ON c.email = o.customer_email").fetchone()[0]
    assert joined == 2 * len(CUSTOMERS)
    same_person = conn.execute("""SELECT count(*) FROM support_tickets t JOIN customers c ON c.id = t.customer_id
                                  WHERE t.contact_email IS NOT NULL AND t.contact_email <> c.email""").fetchone()[0]
    assert same_person == 0
    # deterministic across tables: shipping name/phone pseudonyms equal the customer's
    mismatched = conn.execute("""SELECT count(*) FROM orders o JOIN customers c ON c.email = o.customer_email
                                 WHERE o.shipping_name <> c.full_name
                                    OR o.shipping_phone IS DISTINCT FROM c.phone""").fetchone()[0]
    assert mismatched == 0
    # unique stays unique, and PostgreSQL itself re-validates every constraint
    assert conn.execute("SELECT count(DISTINCT email) = count(*) FROM customers").fetchone()[0] is True
    for name, child, cc, parent, pc in masking.foreign_keys(conn.cursor()):
        conn.execute(f'ALTER TABLE {child} DROP CONSTRAINT "{name}"')
        conn.execute(f'ALTER TABLE {child} ADD CONSTRAINT "{name}" FOREIGN KEY ({", ".join(cc)}) '
                     f'REFERENCES {parent} ({", ".join(pc)})')  # fails on any orphan
    conn.execute("ALTER TABLE customers ADD CONSTRAINT email_unique_again UNIQUE (email)")
    conn.execute("ALTER TABLE customers ADD CONSTRAINT phone_unique_again UNIQUE (phone)")
    conn.rollback()


def test_masking_is_deterministic_per_key_and_keyed() -> None:
    a = masking.Pseudonymizer(b"k" * 32)
    b = masking.Pseudonymizer(b"other-key-0123456789")
    assert a.email("Alice@Example.org") == a.email("alice@example.org ")
    assert a.email("alice@example.org") != b.email("alice@example.org")
    assert a.phone("+1 (555) 010-2030") == a.phone("+1 (555) 010-2030")
    assert a.name("Alice Smith") != a.name("Alice Smyth")


def test_a_rule_breaking_a_foreign_key_commits_nothing(postgres: str, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import psycopg

    rules_file = tmp_path / "rules.toml"
    rules_file.write_text('[tables.customers.columns]\nemail = "email"\n')  # orders.customer_email forgotten
    monkeypatch.setenv("MASKING_KEY", "test-key-0123456789abcdef")
    with psycopg.connect(postgres) as conn:
        _load(conn)
        rules = masking.load_rules(rules_file)
        with pytest.raises(masking.MaskingError, match="orphaned rows: orders_customer_email_fkey"):
            masking.mask_database(conn, rules, masking.key_from_env(rules), say=lambda _m: None)
        assert conn.execute("SELECT count(*) FROM customers WHERE email = 'alice.smith@gmail.com'").fetchone()[0] == 1


def test_bad_rules_and_missing_key_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[tables.customers.columns]\nemail = "scramble"\n')
    with pytest.raises(masking.MaskingError, match="use one of email, name, phone, null, redact"):
        masking.load_rules(bad)
    monkeypatch.delenv("MASKING_KEY", raising=False)
    with pytest.raises(masking.MaskingError, match="MASKING_KEY is not set"):
        masking.key_from_env(masking.load_rules())
