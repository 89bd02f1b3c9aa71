"""An evaluator of CloudWatch Logs filter patterns, for tests: the JSON form (``{ $.status >= 500 && ... }``) and the
term form (``?ERROR ?Error``, ``ERROR -DEBUG``, ``"quoted phrase"``), as metric filters apply them.

Syntax encoded (https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html,
https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/matching-terms-json-log-events.html,
https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/matching-terms-events.html):

- JSON patterns apply to events that are JSON objects only (anything else never matches). Selectors ``$.a.b``,
  ``$.a[0]``. ``=``/``!=`` compare strings (an unquoted or quoted value; ``*`` is a wildcard) or numbers;
  ``<``, ``>``, ``<=``, ``>=`` compare numbers only (a string field never matches them). ``= *`` matches any
  value of a present field. ``IS NULL``, ``NOT EXISTS``, ``IS TRUE``, ``IS FALSE``. ``&&`` binds tighter than
  ``||``; parentheses group.
- Term patterns: case-sensitive; every plain term must appear, ``?term`` terms match when any of them appears (a
  pattern of only ``?`` terms), ``-term`` excludes; a double-quoted term may hold spaces and symbols. The empty
  pattern matches every event.
- The metric value: a literal number, or ``$.field`` read from the matched JSON event (numeric).
"""
from __future__ import annotations

import fnmatch
import json
import re
from typing import Any

_TOKEN = re.compile(r'\s*(\&\&|\|\||\(|\)|!=|<=|>=|=|<|>|"(?:[^"\\]|\\.)*"|\$[^\s=!<>()&|]*|[^\s=!<>()&|]+)')
_MISSING = object()


class PatternError(ValueError):
    pass


def _select(doc: Any, selector: str) -> Any:
    if not selector.startswith("$"):
        raise PatternError(f"selector {selector!r} must start with $")
    value = doc
    for name, index in re.findall(r"\.([^.\[\]]+)|\[(\d+)\]", selector[1:]):
        if name:
            if not isinstance(value, dict) or name not in value:
                return _MISSING
            value = value[name]
        else:
            if not isinstance(value, list) or int(index) >= len(value):
                return _MISSING
            value = value[int(index)]
    return value


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


class _Json:
    def __init__(self, body: str) -> None:
        self.tokens = [t for t in _TOKEN.findall(body) if t]
        self.pos = 0
        rest = _TOKEN.sub("", body).strip()
        if rest:
            raise PatternError(f"cannot parse {rest!r}")

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str:
        token = self.peek()
        if token is None:
            raise PatternError("unexpected end of pattern")
        self.pos += 1
        return token

    def parse(self):
        expr = self.or_()
        if self.peek() is not None:
            raise PatternError(f"unexpected {self.peek()!r}")
        return expr

    def or_(self):
        left = self.and_()
        while self.peek() == "||":
            self.take()
            right = self.and_()
            left = (lambda a, b: lambda d: a(d) or b(d))(left, right)
        return left

    def and_(self):
        left = self.atom()
        while self.peek() == "&&":
            self.take()
            right = self.atom()
            left = (lambda a, b: lambda d: a(d) and b(d))(left, right)
        return left

    def atom(self):
        if self.peek() == "(":
            self.take()
            expr = self.or_()
            if self.take() != ")":
                raise PatternError("missing )")
            return expr
        selector = self.take()
        op = self.take()
        if op.upper() == "IS":
            what = self.take().upper()
            expect = {"NULL": None, "TRUE": True, "FALSE": False}[what]
            return lambda d: (v := _select(d, selector)) is not _MISSING and v is expect
        if op.upper() == "NOT":
            if self.take().upper() != "EXISTS":
                raise PatternError("NOT must be followed by EXISTS")
            return lambda d: _select(d, selector) is _MISSING
        if op not in ("=", "!=", "<", ">", "<=", ">="):
            raise PatternError(f"unknown operator {op!r}")
        raw = self.take()
        quoted = raw.startswith('"')
        text = json.loads(raw) if quoted else raw
        number = None if quoted else _number(text)

        def compare(doc: Any) -> bool:
            value = _select(doc, selector)
            if value is _MISSING:
                return False
            if op in ("<", ">", "<=", ">="):
                if number is None or isinstance(value, bool) or not isinstance(value, (int, float)):
                    return False
                return {"<": value < number, ">": value > number, "<=": value <= number,
                        ">=": value >= number}[op]
            if not quoted and text == "*":
                equal = value is not None and not isinstance(value, (dict, list))
            elif number is not None and isinstance(value, (int, float)) and not isinstance(value, bool):
                equal = value == number
            elif isinstance(value, str):
                equal = fnmatch.fnmatchcase(value, text)
            elif isinstance(value, bool):
                equal = text == ("true" if value else "false")
            else:
                equal = False
            return equal if op == "=" else not equal

        return compare


def _terms(pattern: str) -> tuple[list[str], list[str], list[str]]:
    required, optional, excluded = [], [], []
    for raw in re.findall(r'[?-]?"(?:[^"\\]|\\.)*"|\S+', pattern):
        sign = raw[0] if raw[0] in "?-" else ""
        term = raw[len(sign):]
        if term.startswith('"'):
            term = json.loads(term)
        {"": required, "?": optional, "-": excluded}[sign].append(term)
    return required, optional, excluded


def matches(pattern: str, message: str) -> bool:
    """Whether one log event matches the filter pattern."""
    pattern = pattern.strip()
    if not pattern:
        return True
    if pattern.startswith("{"):
        if not pattern.endswith("}"):
            raise PatternError("a JSON pattern ends with }")
        predicate = _Json(pattern[1:-1]).parse()
        try:
            doc = json.loads(message)
        except ValueError:
            return False
        return isinstance(doc, dict) and bool(predicate(doc))
    required, optional, excluded = _terms(pattern)
    if any(t in message for t in excluded):
        return False
    if not all(t in message for t in required):
        return False
    return not optional or any(t in message for t in optional)


def metric_value(value: str, message: str) -> float | None:
    """The value a metric transformation emits for a matched event (None when the field is not a number)."""
    if value.startswith("$"):
        found = _select(json.loads(message), value)
        return float(found) if isinstance(found, (int, float)) and not isinstance(found, bool) else None
    return float(value)
