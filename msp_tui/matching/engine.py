"""Vendor account -> PSA company decisions: auto, suggested or none.

Order of evidence, strongest first, each only when it points at exactly one PSA company:
1. a mapping already made for another integration from an account with the same normalised name;
2. the same normalised name (or the same name with the spaces squashed out: "acmecorp");
3. the same registrable domain (the vendor account's domain against the company's website);
4. a near name that is safe: one typo apart (a letter dropped, doubled or swapped, never a
   letter changed), the same numbers, a high score with a clear lead over the runner-up, and
   mutual: no other vendor account is closer to that company.

Everything else gets up to three scored suggestions, or none. Auto decisions are one-to-one
within a run: a PSA company keeps two auto-mapped accounts only if their normalised names are
equal; otherwise the weaker evidence is demoted to a suggestion.

Near-name scores come from rapidfuzz `process.cdist` with `fuzz.ratio` on the normalised keys
(uint8, all cores, a score cutoff so the matrix is mostly zeros), and only the few candidates
that survive are rescored in Python. bench/match_quality.py and bench/match_speed.py are where
the scorer and the thresholds below were chosen.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

import numpy as np
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from msp_tui.matching.containment import (
    company_leads,
    group_extension,
    leading_parts,
    shortened,
    vendor_leads,
)
from msp_tui.matching.domains import SMALL_WORDS, domain_spells, domain_suggestions
from msp_tui.matching.normalize import (
    NormalName,
    normalize_name,
    other_entity,
    registrable_domain,
)

Decision = Literal["auto", "suggested", "none"]

# Domains many unrelated customers share; equal domains there say nothing.
SHARED_DOMAINS = frozenset(
    {
        "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "msn.com",
        "yahoo.com", "ymail.com", "aol.com", "icloud.com", "me.com", "mac.com", "proton.me",
        "protonmail.com", "gmx.com", "gmx.net", "zoho.com", "mail.com", "comcast.net",
        "onmicrosoft.com", "sharepoint.com", "wixsite.com", "squarespace.com", "godaddysites.com",
    }
)  # fmt: skip
_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True)
class MatchConfig:
    auto_score: float = 90.0  # a near match must score at least this to be automatic
    auto_lead: float = 4.0  # ... and lead the runner-up by this much
    suggest_score: float = 55.0  # below this, a candidate is not worth showing
    candidate_cutoff: int = 50  # cdist score_cutoff: lower scores are never looked at again
    candidates_per_account: int = 8
    suggestions: int = 3


DEFAULT_CONFIG = MatchConfig()


@dataclass(frozen=True)
class Party:
    """One side's record: a vendor account or a PSA company."""

    id: str
    name: str
    domain: str | None = None  # a vendor account's domain, a PSA company's website


@dataclass(frozen=True)
class Suggestion:
    psa_id: str
    score: float
    reason: str = "similar name"  # why it is suggested, in the operator's words


@dataclass(frozen=True)
class MatchDecision:
    vendor_id: str
    decision: Decision
    psa_id: str | None
    score: float
    reason: str
    suggestions: tuple[Suggestion, ...] = ()


@dataclass
class _Auto:
    psa: int
    score: float
    strength: int  # higher wins a one-to-one conflict
    reason: str


_STRENGTH = {"mapped before": 4, "exact name": 3, "same domain": 2, "leading part": 1,
             "starts with company name": 1, "name in domain": 1, "initials": 1,
             "shortened name": 1, "near name": 1}  # fmt: skip
# Why a company is suggested when an equal name was not enough to map it.
_TIE_REASONS = ("same name, several companies", "same name, another legal form",
                "shares its name with a longer one", "domain fits several companies")  # fmt: skip


def _index(items: Iterable[tuple[str | None, int]]) -> dict[str, list[int]]:
    index: dict[str, list[int]] = defaultdict(list)
    for key, i in items:
        if key:
            index[key].append(i)
    return index


def _only(found: Iterable[int]) -> int | None:
    unique = set(found)
    return unique.pop() if len(unique) == 1 else None


def _is_typo(a: str, b: str, alone: bool = False) -> bool:
    """One slip of the fingers: a letter dropped, doubled or two swapped, past the first letter
    of a word of five or more. A changed letter is not a typo here: "Dental"/"Rental" and
    "Peterson"/"Petersen" are different businesses as often as they are mistakes. In a name of
    one word (`alone`), a dropped letter is not either ("Sanshin" and "Sangshin" are two
    companies); a doubled one still is ("Xenccor")."""
    if a[0] != b[0] or min(len(a), len(b)) < 5 or OSA.distance(a, b) != 1:
        return False
    if len(a) == len(b):
        return sorted(a) == sorted(b)
    if not alone:
        return True
    long = max(a, b, key=len)
    short = min(a, b, key=len)
    gap = next((i for i, (x, y) in enumerate(zip(long, short, strict=False)) if x != y), len(short))
    return long[gap] in long[max(gap - 1, 0) : gap] + long[gap + 1 : gap + 2]


def _typo_apart(a: list[str], b: list[str]) -> bool:
    """The same words in the same order but for one typo in one of them."""
    if len(a) != len(b):
        return False
    different = [(x, y) for x, y in zip(a, b, strict=True) if x != y]
    return len(different) == 1 and _is_typo(*different[0], alone=len(a) == 1)


def _score(v: NormalName, p: NormalName) -> float:
    """How alike two names are, for deciding: the mean of the indel ratio and the OSA
    similarity (where a transposition, "Brantd", costs one edit as people count it), or the
    ratio of the squashed names when only the spacing differs."""
    return max(
        fuzz.ratio(v.squash, p.squash) if v.squash == p.squash else 0.0,
        (fuzz.ratio(v.key, p.key) + 100 * OSA.normalized_similarity(v.key, p.key)) / 2,
    )


def _rank(v: NormalName, p: NormalName, decide: float) -> float:
    """How good a suggestion is: as `_score`, but a name whose words all appear in the other
    ("Nexon" in "Nexon Holdings") also ranks well, a little below a near-identical name."""
    return max(decide, 0.9 * fuzz.token_set_ratio(v.key, p.key))


def _safe_near(v: NormalName, p: NormalName) -> bool:
    return _DIGITS.findall(v.key) == _DIGITS.findall(p.key) and _typo_apart(v.tokens, p.tokens)


@dataclass
class _Prepared:
    names: list[NormalName]
    by_key: dict[str, list[int]] = field(default_factory=dict)
    by_squash: dict[str, list[int]] = field(default_factory=dict)
    by_domain: dict[str, list[int]] = field(default_factory=dict)
    by_first: dict[str, list[int]] = field(default_factory=dict)
    by_prefix: dict[str, list[int]] = field(default_factory=dict)  # leading words -> longer
    by_initials: dict[str, list[int]] = field(default_factory=dict)  # "adp" -> Automatic Data P.
    by_word: dict[str, list[int]] = field(default_factory=dict)  # every word of every name
    by_start: dict[str, list[int]] = field(default_factory=dict)  # words' first four letters


def _prepare_psa(psa: Sequence[Party]) -> _Prepared:
    names = [normalize_name(p.name) for p in psa]
    prepared = _Prepared(names)
    prepared.by_key = _index((n.key, i) for i, n in enumerate(names))
    prepared.by_squash = _index(
        [(n.squash, i) for i, n in enumerate(names)]
        + [(n.full_squash, i) for i, n in enumerate(names) if n.full_squash != n.squash]
    )
    prepared.by_domain = _index(
        (registrable_domain(p.domain) or n.domain, i)
        for i, (p, n) in enumerate(zip(psa, names, strict=True))
    )
    prepared.by_first = _index((n.key.split(" ", 1)[0], i) for i, n in enumerate(names))
    prepared.by_prefix = _index(
        (" ".join(n.tokens[:k]), i) for i, n in enumerate(names) for k in range(1, len(n.tokens))
    )
    prepared.by_initials = _index((_initials(n), i) for i, n in enumerate(names))
    prepared.by_word = _index((w, i) for i, n in enumerate(names) for w in set(n.tokens))
    prepared.by_start = _index(
        (w[:4], i) for i, n in enumerate(names) for w in {t for t in n.tokens if len(t) > 3}
    )
    return prepared


def _initials(name: NormalName) -> str | None:
    words = [t for t in name.tokens if t not in SMALL_WORDS]
    return "".join(w[0] for w in words) if len(words) >= 2 else None


def _strong_evidence(
    v: NormalName,
    vendor: Party,
    psa: _Prepared,
    prior: Mapping[str, int],
) -> tuple[_Auto | None, list[int], str]:
    """An automatic decision from prior mappings, equal names or equal domains; or the PSA
    companies an equal name points at without settling which, and why it does not."""
    if not v.key:
        return None, [], ""
    if v.key in prior:
        return _Auto(prior[v.key], 100.0, _STRENGTH["mapped before"], "mapped before"), [], ""
    equal = set(psa.by_key.get(v.key, ()))
    equal |= set(psa.by_squash.get(v.squash, ()))
    equal |= set(psa.by_squash.get(v.full_squash, ()))
    domain = registrable_domain(vendor.domain) or v.domain
    same_domain = psa.by_domain.get(domain, []) if domain and domain not in SHARED_DOMAINS else []
    if len(equal) > 1:
        # "Acme Inc" vs PSA "Acme Inc" and "Acme LLC": the legal form decides, then the domain.
        pick = _only(i for i in equal if psa.names[i].full_squash == v.full_squash)
        pick = pick if pick is not None else _only(i for i in equal if i in same_domain)
        if pick is None:
            return None, sorted(equal), _TIE_REASONS[0]
        equal = {pick}
    if len(equal) == 1:
        pick = equal.pop()
        p = psa.names[pick]
        # "rollins.edu": "Rollins" or "Rollins College"? "ptc.edu": "PTC" or "Piedmont
        # Technical College"? A domain is seldom a company's whole name.
        fits = {*psa.by_prefix.get(v.key, ()), *psa.by_initials.get(v.squash, ())} - {pick}
        if v.domain and fits and pick not in same_domain:
            return None, [pick, *sorted(fits)[:3]], _TIE_REASONS[3]
        if v.full_squash == p.full_squash or pick in same_domain:
            return _Auto(pick, 100.0, _STRENGTH["exact name"], "exact name"), [], ""
        if other_entity(v, p):  # "Pfizer Limited" is not "Pfizer Inc."
            return None, [pick], _TIE_REASONS[1]
        bare = v.full_squash == v.squash  # "Otsuka Corporation" says which; "Otsuka" does not
        longer = [i for i in psa.by_prefix.get(v.key, ())
                  if bare and i != pick and group_extension(v, psa.names[i])]  # fmt: skip
        if longer:  # "Otsuka": "Otsuka Corporation" or "Otsuka Holdings"?
            return None, [pick, *sorted(longer)[:3]], _TIE_REASONS[2]
        return _Auto(pick, 100.0, _STRENGTH["exact name"], "exact name"), [], ""
    pick = _only(same_domain)
    if pick is not None:
        return _Auto(pick, 100.0, _STRENGTH["same domain"], "same domain"), [], ""
    return None, [], ""


def _contained(v: NormalName, psa: _Prepared, vendor_leading: Counter[str]) -> _Auto | None:
    """An automatic decision from one name inside the other (`msp_tui.matching.containment`,
    `msp_tui.matching.domains`), scored by how much of the longer name the shorter one is."""
    pick = vendor_leads(v, psa.names, psa.by_prefix, vendor_leading)
    reason = "leading part"
    if pick is None and not psa.by_prefix.get(v.key):
        pick = company_leads(v, psa.names, psa.by_key, vendor_leading)
        reason = "starts with company name"
    if pick is None:
        pick, reason = domain_spells(
            v, psa.names, psa.by_word, psa.by_initials, vendor_leading
        ) or (None, "")
    if pick is None:
        return None
    short, long = sorted((len(v.key), len(psa.names[pick].key)))
    return _Auto(pick, max(round(100 * short / long, 1), 50.0), _STRENGTH[reason], reason)


@dataclass(frozen=True)
class PreparedPsa:
    """The PSA side made ready once (its names normalised and indexed), for many calls of
    `match_accounts`: a board suggesting for one account at a time reuses it. Read only."""

    parties: tuple[Party, ...]
    prepared: _Prepared
    index: Mapping[str, int]  # PSA id -> position


def prepare_psa(psa: Sequence[Party]) -> PreparedPsa:
    """Normalise and index the PSA side (50-100 ms at 5,000 companies)."""
    return PreparedPsa(tuple(psa), _prepare_psa(psa), {p.id: i for i, p in enumerate(psa)})


def match_accounts(
    vendors: Sequence[Party],
    psa: Sequence[Party] | PreparedPsa,
    prior: Iterable[tuple[str, str]] = (),
    config: MatchConfig = DEFAULT_CONFIG,
    others: Iterable[str] = (),
) -> list[MatchDecision]:
    """Decide, for every vendor account, which PSA company it is (see the module docstring).

    `psa` is the PSA companies, or them prepared by `prepare_psa`. `prior` pairs (vendor
    account name, PSA company id) from mappings already made for other integrations; a PSA id
    not in `psa` is ignored. `others` names the integration's vendor accounts not decided
    here (those already mapped): a name inside another is only mapped when no other account
    shares its leading words (see `msp_tui.matching.containment`).
    """
    ready = psa if isinstance(psa, PreparedPsa) else prepare_psa(psa)
    psa, prepared, psa_index = ready.parties, ready.prepared, ready.index
    prior_index = {
        normalize_name(name).key: psa_index[pid] for name, pid in prior if pid in psa_index
    }
    vnames = [normalize_name(v.name) for v in vendors]
    vendor_leading = leading_parts([*vnames, *(normalize_name(n) for n in others)])

    autos: dict[int, _Auto] = {}
    ties: dict[int, tuple[list[int], str]] = {}
    cut_short: dict[int, int] = {}  # vendor row -> the one company it is, words cut short
    for vi, (vendor, vname) in enumerate(zip(vendors, vnames, strict=True)):
        auto, tied, why = _strong_evidence(vname, vendor, prepared, prior_index)
        if auto is None and not tied and vname.key:
            auto = _contained(vname, prepared, vendor_leading)
            if auto is None:
                pick = shortened(vname, prepared.names, prepared.by_first, vendor_leading)
                if pick is not None:
                    cut_short[vi] = pick
        if auto is not None:
            autos[vi] = auto
        elif tied:
            ties[vi] = (tied, why)

    claims = Counter(cut_short.values())
    for vi, pick in cut_short.items():
        if claims[pick] == 1:  # "Sun Pharma" and "Sun Pharm Labs" both: neither
            score = round(_score(vnames[vi], prepared.names[pick]), 1)
            autos[vi] = _Auto(pick, score, _STRENGTH["shortened name"], "shortened name")

    open_rows = [vi for vi in range(len(vendors)) if vi not in autos and vnames[vi].key]
    candidates = _near_candidates(open_rows, vnames, prepared, config)
    taken = {a.psa for a in autos.values()}
    for vi, cands in candidates.items():
        if vi in ties or not cands:
            continue
        best = max(cands, key=lambda c: c.decide)
        runner_up = max((c.decide for c in cands if c is not best), default=0.0)
        if (
            best.decide >= config.auto_score
            and best.decide - runner_up >= config.auto_lead
            and best.mutual
            and best.psa not in taken
            and _safe_near(vnames[vi], prepared.names[best.psa])
        ):
            autos[vi] = _Auto(best.psa, best.decide, _STRENGTH["near name"], "near name")

    demoted = _one_to_one(autos, vnames)

    decisions = []
    for vi, vendor in enumerate(vendors):
        auto = autos.get(vi)
        if auto is not None:
            decisions.append(
                MatchDecision(vendor.id, "auto", psa[auto.psa].id, auto.score, auto.reason)
            )
            continue
        scored = [(demoted[vi].psa, demoted[vi].score, "company already taken")] if (
            vi in demoted) else []  # fmt: skip
        tied, why = ties.get(vi, ([], ""))
        scored += [(i, 100.0 if n == 0 else 95.0, why) for n, i in enumerate(tied)]
        ranked = sorted(candidates.get(vi, []), key=lambda c: -c.rank)
        scored += [(c.psa, c.rank, c.why) for c in ranked if c.rank >= config.suggest_score]
        seen: set[int] = set()
        top = []
        for i, s, reason in scored:
            if i not in seen:
                seen.add(i)
                top.append(Suggestion(psa[i].id, round(s, 1), reason))
        top = top[: config.suggestions]
        if top:
            decisions.append(
                MatchDecision(vendor.id, "suggested", top[0].psa_id, top[0].score,
                              top[0].reason, tuple(top))
            )  # fmt: skip
        else:
            decisions.append(MatchDecision(vendor.id, "none", None, 0.0, "no similar name"))
    return decisions


class _Candidate(NamedTuple):
    psa: int
    decide: float  # `_score`: for automatic decisions
    rank: float  # `_rank`: for ordering suggestions
    mutual: bool  # no other open vendor account is closer to this company
    why: str  # the reason a suggestion gives


def _near_candidates(
    rows: list[int], vnames: list[NormalName], psa: _Prepared, config: MatchConfig
) -> dict[int, list[_Candidate]]:
    """The best few PSA companies for each open vendor row. One cdist over all pairs finds
    similar names; companies sharing the first word ("Nexon" -> "Nexon Holdings") are added
    for suggestions. Python only touches the survivors."""
    if not rows or not psa.names:
        return {}
    matrix = process.cdist(
        [vnames[vi].key for vi in rows],
        [n.key for n in psa.names],
        scorer=fuzz.ratio,
        dtype=np.uint8,
        workers=-1,
        score_cutoff=config.candidate_cutoff,
    )
    r, c = np.nonzero(matrix)
    scores = matrix[r, c]
    # The closest open vendor row to each PSA company, for the "mutual best" test.
    column_best = np.zeros(len(psa.names), dtype=np.uint8)
    np.maximum.at(column_best, c, scores)
    column_holders = np.zeros(len(psa.names), dtype=np.int32)
    np.add.at(column_holders, c, scores == column_best[c])

    order = np.lexsort((-scores.astype(np.int16), r))  # by row, best score first
    r, c, scores = r[order], c[order], scores[order]
    starts = np.flatnonzero(np.r_[True, r[1:] != r[:-1]])
    ends = np.r_[starts[1:], len(r)]
    keep = config.candidates_per_account
    found: dict[int, dict[int, bool]] = defaultdict(dict)  # row -> psa -> mutual
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        stop = min(end, start + keep)
        for pi, raw in zip(c[start:stop].tolist(), scores[start:stop].tolist(), strict=True):
            found[int(r[start])][pi] = bool(raw == column_best[pi] and column_holders[pi] == 1)
    initials: dict[int, set[int]] = defaultdict(set)
    spelled: dict[int, list[int]] = {}
    for row, vi in enumerate(rows):
        v = vnames[vi]
        if v.domain:  # "usherb.ca": "Université de Sherbrooke", however unlike the names
            spelled[row] = domain_suggestions(v, psa.names, psa.by_start)
            for pi in spelled[row]:
                found[row].setdefault(pi, False)
        same_first = psa.by_first.get(v.tokens[0], ())
        if len(same_first) <= config.candidates_per_account:
            for pi in same_first:
                found[row].setdefault(pi, False)
        # "adp.com" for Automatic Data Processing: a suggestion, never a map.
        by_initials = psa.by_initials.get(v.key, ()) if 2 <= len(v.key) <= 5 else ()
        if " " not in v.key and len(by_initials) <= config.candidates_per_account:
            for pi in by_initials:
                found[row].setdefault(pi, False)
                initials[row].add(pi)

    result: dict[int, list[_Candidate]] = {}
    for row, by_psa in found.items():
        v = vnames[rows[row]]
        cands = []
        for pi, mutual in by_psa.items():
            p = psa.names[pi]
            decide = _score(v, p)
            rank = _rank(v, p, decide)
            why = "similar name"
            if pi in spelled.get(row, ()) and rank < 88:
                rank, why = 88.0 - 2 * (len(spelled[row]) > 1), "name in domain"
            elif pi in initials[row] and rank < 85:
                rank, why = 85.0, "initials"
            elif p.key.startswith(v.key + " "):
                why = "leading part"
            cands.append(_Candidate(pi, decide, rank, mutual, why))
        result[rows[row]] = cands
    return result


def _one_to_one(autos: dict[int, _Auto], vnames: list[NormalName]) -> dict[int, _Auto]:
    """Demote auto decisions that would give one PSA company accounts with different names;
    returns the demoted ones, which become suggestions."""
    demoted: dict[int, _Auto] = {}
    by_psa: dict[int, list[int]] = defaultdict(list)
    for vi, auto in autos.items():
        by_psa[auto.psa].append(vi)
    for holders in by_psa.values():
        if len({vnames[vi].key for vi in holders}) <= 1:
            continue
        best = max(holders, key=lambda vi: (autos[vi].strength, autos[vi].score, -vi))
        winner_key = vnames[best].key
        for vi in holders:
            if vnames[vi].key != winner_key:
                demoted[vi] = autos.pop(vi)
    return demoted
