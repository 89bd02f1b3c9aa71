"""The masking job: anonymize personal data in a PostgreSQL database restored from a production snapshot.

Driven by a rules file (``pipeline/masking_rules.toml``): per table and column one strategy

- ``email``: ``u<16 hex>@<domain>`` (a valid address; the local part is a keyed HMAC of the normalized address),
- ``name``: as many capitalized pseudo-words as the original had words (from the HMAC),
- ``phone``: every digit replaced by HMAC-derived digits, every other character (``+``, spaces, dashes,
  parentheses, dots) kept in place, so the format is the original's,
- ``null``: free text set to NULL; ``redact``: set to ``[redacted]`` (for NOT NULL columns),

Pseudonyms are deterministic: HMAC-SHA256 under a secret key (``MASKING_KEY`` or the ``key_env`` the rules name,
never stored in the rules), keyed by strategy, so the same input gives the same output in every table and column and
in every run with the same key: a foreign key stored as an email (or a name) stays consistent with the row it points
to. Unique columns stay unique (the job checks that every mapping is one to one before writing). The updates run in
one transaction with ``session_replication_role = replica`` (foreign key triggers are not fired while parent and
child values change in turn; RDS allows it to ``rds_superuser``); before committing, every foreign key of the
database is checked for orphans by query, and the transaction is rolled back on any.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

DEFAULT_RULES = Path(__file__).with_name("masking_rules.toml")
STRATEGIES = ("email", "name", "phone", "null", "redact")
_SYLLABLES = ("ba", "ce", "di", "fo", "gu", "ha", "je", "ki", "lo", "mu", "na", "pe", "ri", "so", "tu", "va",
              "we", "xi", "yo", "za", "bre", "cla", "dro", "fle", "gri", "klo", "pra", "stu", "tre", "vli", "zor", "mel")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class MaskingError(RuntimeError):
    """The rules are invalid or the job would break the data (nothing is committed)."""


@dataclass(frozen=True)
class ColumnRule:
    table: str
    column: str
    strategy: str


@dataclass(frozen=True)
class Rules:
    columns: tuple[ColumnRule, ...]
    key_env: str = "MASKING_KEY"
    email_domain: str = "example.com"
    source: str = ""

    def tables(self) -> list[str]:
        return sorted({c.table for c in self.columns})


def load_rules(path: Path | None = None) -> Rules:
    path = Path(path or DEFAULT_RULES)
    try:
        doc = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise MaskingError(f"{path}: cannot read masking rules ({exc})") from None
    cols: list[ColumnRule] = []
    for table, spec in (doc.get("tables") or {}).items():
        for column, strategy in (spec.get("columns") or {}).items():
            if not (_IDENT.match(table.split(".")[-1]) and _IDENT.match(column)):
                raise MaskingError(f"{path}: tables.{table}.columns.{column}: not a plain SQL identifier")
            if strategy not in STRATEGIES:
                raise MaskingError(f"{path}: tables.{table}.columns.{column} = {strategy!r}; use one of "
                                   f"{', '.join(STRATEGIES)}")
            cols.append(ColumnRule(table, column, strategy))
    if not cols:
        raise MaskingError(f"{path}: no [tables.<name>.columns] rules")
    opts = doc.get("masking") or {}
    return Rules(tuple(cols), key_env=opts.get("key_env", "MASKING_KEY"),
                 email_domain=opts.get("email_domain", "example.com"), source=str(path))


class Pseudonymizer:
    """Deterministic, keyed, format-preserving pseudonyms."""

    def __init__(self, key: bytes, email_domain: str = "example.com") -> None:
        if len(key) < 16:
            raise MaskingError("the masking key must be at least 16 bytes")
        self.key, self.email_domain = key, email_domain

    def _mac(self, kind: str, value: str) -> bytes:
        return hmac.new(self.key, f"{kind}\x00{value}".encode(), hashlib.sha256).digest()

    def email(self, value: str) -> str:
        return f"u{self._mac('email', value.strip().lower()).hex()[:16]}@{self.email_domain}"

    def name(self, value: str) -> str:
        words = value.split() or [value]
        mac = self._mac("name", " ".join(w.lower() for w in words))
        out = []
        for i in range(len(words)):
            b = mac[(i * 3) % 30:(i * 3) % 30 + 3]
            word = "".join(_SYLLABLES[x % len(_SYLLABLES)] for x in b)
            out.append(word.capitalize())
        return " ".join(out)

    def phone(self, value: str) -> str:
        digits = [c for c in value if c.isdigit()]
        mac = self._mac("phone", "".join(digits))
        stream = "".join(str(b % 10) for b in mac + self._mac("phone2", "".join(digits)))
        out, i = [], 0
        for pos, ch in enumerate(value):
            if ch.isdigit():
                new = stream[i % len(stream)]
                if i == 0 and ch != "0" and new == "0":
                    new = str(1 + mac[0] % 9)     # keep a leading non-zero digit non-zero (number plans)
                out.append(new)
                i += 1
            else:
                out.append(ch)
        return "".join(out)

    def apply(self, strategy: str, value: Any) -> Any:
        if value is None:
            return None
        if strategy == "null":
            return None
        if strategy == "redact":
            return "[redacted]"
        return getattr(self, strategy)(str(value))


def key_from_env(rules: Rules) -> bytes:
    key = os.environ.get(rules.key_env, "")
    if not key:
        raise MaskingError(f"${rules.key_env} is not set: the masking key comes from the environment (a secret), "
                           "never from the rules file")
    return key.encode()


@dataclass
class MaskReport:
    columns: list[dict[str, Any]] = field(default_factory=list)
    foreign_keys_checked: int = 0

    def lines(self) -> list[str]:
        out = [f"  {c['table']}.{c['column']}: {c['strategy']} ({c['rows']} row(s), {c['distinct']} distinct)"
               for c in self.columns]
        out.append(f"  foreign keys checked: {self.foreign_keys_checked}, no orphans")
        return out


def _qualified(name: str) -> str:
    return ".".join(f'"{part}"' for part in name.split("."))


def foreign_keys(cur: Any) -> list[tuple[str, str, list[str], str, list[str]]]:
    """Every foreign key of the database: (name, child table, child columns, parent table, parent columns)."""
    cur.execute("""
        SELECT c.conname, c.conrelid::regclass::text, c.confrelid::regclass::text,
               ARRAY(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(n, i)
                     JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.i)::text[],
               ARRAY(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY k(n, i)
                     JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.i)::text[]
        FROM pg_constraint c WHERE c.contype = 'f' ORDER BY 1""")
    return [(n, child, list(cc), parent, list(pc)) for n, child, parent, cc, pc in cur.fetchall()]


def orphan_count(cur: Any, child: str, child_cols: list[str], parent: str, parent_cols: list[str]) -> int:
    not_null = " AND ".join(f'c."{col}" IS NOT NULL' for col in child_cols)
    match = " AND ".join(f'p."{pc}" = c."{cc}"' for cc, pc in zip(child_cols, parent_cols))
    cur.execute(f"SELECT count(*) FROM {child} c WHERE {not_null} AND NOT EXISTS "
                f"(SELECT 1 FROM {parent} p WHERE {match})")
    return int(cur.fetchone()[0])


def mask_database(conn: Any, rules: Rules, key: bytes, say: Callable[[str], None] = print) -> MaskReport:
    """Mask every rule's column in one transaction (see the module docstring); commit only when every foreign key
    still resolves."""
    pseudo = Pseudonymizer(key, rules.email_domain)
    report = MaskReport()
    with conn.transaction():
        cur = conn.cursor()
        cur.execute("SET LOCAL session_replication_role = replica")
        for rule in rules.columns:
            table, col = _qualified(rule.table), f'"{rule.column}"'
            if rule.strategy in ("null", "redact"):
                value = None if rule.strategy == "null" else "[redacted]"
                cur.execute(f"UPDATE {table} SET {col} = %s WHERE {col} IS NOT NULL", (value,))
                report.columns.append({"table": rule.table, "column": rule.column, "strategy": rule.strategy,
                                       "rows": cur.rowcount, "distinct": 1})
                continue
            cur.execute(f"SELECT DISTINCT {col}::text FROM {table} WHERE {col} IS NOT NULL")
            originals = [r[0] for r in cur.fetchall()]
            mapping = {old: pseudo.apply(rule.strategy, old) for old in originals}
            if len(set(mapping.values())) != len(mapping):
                collisions = len(mapping) - len(set(mapping.values()))
                raise MaskingError(f"{rule.table}.{rule.column}: {collisions} value(s) would map onto others "
                                   "(e.g. addresses differing only in case); a unique constraint could break")
            cur.execute("CREATE TEMP TABLE IF NOT EXISTS _mask_map (old text PRIMARY KEY, new text) ON COMMIT DROP")
            cur.execute("TRUNCATE _mask_map")
            with cur.copy("COPY _mask_map (old, new) FROM STDIN") as copy:
                for old, new in mapping.items():
                    copy.write_row((old, new))
            cur.execute(f"UPDATE {table} t SET {col} = m.new FROM _mask_map m WHERE t.{col}::text = m.old")
            report.columns.append({"table": rule.table, "column": rule.column, "strategy": rule.strategy,
                                   "rows": cur.rowcount, "distinct": len(mapping)})
        fks = foreign_keys(cur)
        broken = [(n, c) for n, child, cc, parent, pc in fks if (c := orphan_count(cur, child, cc, parent, pc))]
        if broken:
            raise MaskingError("masking would leave orphaned rows: " + ", ".join(f"{n} ({c})" for n, c in broken)
                               + "; mask the referencing columns with the same strategy")
        report.foreign_keys_checked = len(fks)
    for line in report.lines():
        say(line)
    return report


def masked_columns_summary(rules: Rules) -> list[str]:
    return [f"{r.table}.{r.column} -> {r.strategy}" for r in rules.columns]


def tables_without_rules(cur: Any, rules: Rules, suspicious: Iterable[str] = ("email", "phone", "name", "note",
                                                                               "comment", "address")) -> list[str]:
    """Columns whose name suggests personal data but that no rule covers (reported, not masked)."""
    covered = {(r.table.split(".")[-1], r.column) for r in rules.columns}
    cur.execute("SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'")
    return sorted(f"{t}.{c}" for t, c in cur.fetchall()
                  if (t, c) not in covered and any(s in c.lower() for s in suspicious))
