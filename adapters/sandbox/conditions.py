"""ConnectWise `conditions=` filters: parse once into a predicate over the JSON objects.

    company/id=250 and (agreementStatus="Active" or name like "Acme*") and deletedFlag=false

Like ConnectWise (SQL Server underneath) string comparisons ignore case, and so do field names.
Supported: and, or, not, parentheses; = != < <= > >= like contains in; values "quoted", numbers,
true/false/null and [2025-01-31T00:00:00Z] dates.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable
from typing import Any

Predicate = Callable[[dict[str, Any]], bool]


class ConditionError(ValueError):
    pass


_TOKEN = re.compile(
    r"""\s*(?:
      (?P<punct>[(),])
    | (?P<op><=|>=|!=|<>|=|<|>)
    | (?P<string>"(?:[^"\\]|\\.)*")
    | (?P<date>\[[^\]]*\])
    | (?P<number>-?\d+(?:\.\d+)?)(?![\w/])
    | (?P<word>[A-Za-z_]\w*(?:/[A-Za-z_]\w*)*)
    )""",
    re.VERBOSE,
)
_LITERALS = {"true": True, "false": False, "null": None}
_WORD_OPS = {"like", "contains", "in"}
MISSING = object()
_ORDER = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def parse_conditions(text: str, fields: Iterable[str] | None = None) -> Predicate:
    """A predicate for `text`; `fields` (top-level names) makes unknown fields an error, as the
    real API does, instead of silently matching nothing."""
    tokens = _tokenize(text)
    known = {f.casefold() for f in fields} if fields is not None else None
    parser = _Parser(tokens, known)
    predicate = parser.expression()
    if parser.pos < len(tokens):
        raise ConditionError(f"unexpected {tokens[parser.pos][1]!r} in conditions")
    return predicate


def lookup(obj: Any, path: str) -> Any:
    """`company/id` in a nested dict, field names ignoring case; MISSING when absent."""
    for part in path.split("/"):
        if not isinstance(obj, dict):
            return MISSING
        if part in obj:
            obj = obj[part]
            continue
        folded = part.casefold()
        obj = next((v for k, v in obj.items() if k.casefold() == folded), MISSING)
    return obj


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise ConditionError(f"cannot read conditions at {text[pos : pos + 20]!r}")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    if not tokens:
        raise ConditionError("conditions are empty")
    return tokens


class _Parser:
    """Recursive descent: expression = term ("or" term)*, term = factor ("and" factor)*."""

    def __init__(self, tokens: list[tuple[str, str]], known: set[str] | None) -> None:
        self.tokens = tokens
        self.known = known
        self.pos = 0

    def _peek(self) -> tuple[str, str]:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else ("end", "")

    def _next(self) -> tuple[str, str]:
        token = self._peek()
        if token[0] == "end":
            raise ConditionError("conditions end too early")
        self.pos += 1
        return token

    def _keyword(self, word: str) -> bool:
        kind, text = self._peek()
        if kind == "word" and text.casefold() == word:
            self.pos += 1
            return True
        return False

    def expression(self) -> Predicate:
        parts = [self.term()]
        while self._keyword("or"):
            parts.append(self.term())
        return parts[0] if len(parts) == 1 else lambda obj: any(p(obj) for p in parts)

    def term(self) -> Predicate:
        parts = [self.factor()]
        while self._keyword("and"):
            parts.append(self.factor())
        return parts[0] if len(parts) == 1 else lambda obj: all(p(obj) for p in parts)

    def factor(self) -> Predicate:
        if self._peek() == ("punct", "("):
            self.pos += 1
            inner = self.expression()
            if self._next() != ("punct", ")"):
                raise ConditionError("missing ')' in conditions")
            return inner
        if self._keyword("not"):
            negated = self.factor()
            return lambda obj: not negated(obj)
        return self.comparison()

    def comparison(self) -> Predicate:
        kind, path = self._next()
        if kind != "word" or path.casefold() in _LITERALS:
            raise ConditionError(f"expected a field name, found {path!r}")
        if self.known is not None and path.split("/")[0].casefold() not in self.known:
            raise ConditionError(f"unknown field {path!r} in conditions")
        negate = self._keyword("not")
        kind, op = self._next()
        op = op.casefold()
        if not (kind == "op" or (kind == "word" and op in _WORD_OPS)) or (negate and kind == "op"):
            raise ConditionError(f"expected an operator after {path!r}, found {op!r}")
        if op == "in":
            expected: Any = self._list()
        else:
            expected = self._value()
        test = _comparator("!=" if op == "<>" else op, expected)
        if negate:
            return lambda obj: not test(lookup(obj, path))
        return lambda obj: test(lookup(obj, path))

    def _list(self) -> list[Any]:
        if self._next() != ("punct", "("):
            raise ConditionError("'in' needs a list in parentheses")
        values = [self._value()]
        while self._peek() == ("punct", ","):
            self.pos += 1
            values.append(self._value())
        if self._next() != ("punct", ")"):
            raise ConditionError("missing ')' after an 'in' list")
        return values

    def _value(self) -> Any:
        kind, text = self._next()
        if kind == "string":
            return re.sub(r"\\(.)", r"\1", text[1:-1])
        if kind == "date":
            return text[1:-1].strip()
        if kind == "number":
            return float(text) if "." in text else int(text)
        if kind == "word" and text.casefold() in _LITERALS:
            return _LITERALS[text.casefold()]
        raise ConditionError(f"expected a value, found {text!r}")


def _comparator(op: str, expected: Any) -> Callable[[Any], bool]:
    if op == "=":
        return lambda actual: _equal(actual, expected)
    if op == "!=":
        return lambda actual: not _equal(actual, expected)
    if op == "in":
        return lambda actual: any(_equal(actual, e) for e in expected)
    if op in ("like", "contains"):
        if not isinstance(expected, str):
            raise ConditionError(f"'{op}' needs a quoted string")
        pattern = ".*".join(re.escape(p) for p in re.split(r"[*%]", expected))
        if op == "contains":
            pattern = f".*{pattern}.*"
        regex = re.compile(pattern, re.IGNORECASE | re.DOTALL)
        return lambda actual: isinstance(actual, str) and regex.fullmatch(actual) is not None
    ordered = _ORDER[op]
    return lambda actual: (c := _compare(actual, expected)) is not None and ordered(c, 0)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _equal(actual: Any, expected: Any) -> bool:
    if isinstance(actual, str) and isinstance(expected, str):
        return actual.casefold() == expected.casefold()
    if _number(actual) and _number(expected):
        return actual == expected
    if actual is MISSING:
        return expected is None
    return type(actual) is type(expected) and actual == expected


def _compare(actual: Any, expected: Any) -> int | None:
    """-1, 0 or 1; None when the two cannot be ordered (a null, or a number against text)."""
    if _number(actual) and _number(expected):
        pass
    elif isinstance(actual, str) and isinstance(expected, str):
        actual, expected = actual.casefold(), expected.casefold()
    else:
        return None
    return (actual > expected) - (actual < expected)
