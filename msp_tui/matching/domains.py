"""Domains written with a company's words: "amitydubai.ae" and "Amity University Dubai",
"gym-papenburg.de" and "Gymnasium Papenburg", "nmsu.edu" and "New Mexico State University".

Email security vendors name accounts by their domains, so a vendor account is often a bare
domain while the PSA holds the company's name. `domain_spells` finds the one company whose
words write the domain's first label (an automatic map, as `msp_tui.matching.containment`'s
rules are); `domain_suggestions` the few that looser abbreviations might mean ("usherb.ca",
"Université de Sherbrooke"), for a person to confirm.

Spelling a label out is a search, and names come from outside (a vendor's push, a PSA's
reply): every search remembers the states it has been through, and the searches for one
vendor account share a budget of steps; past it the account gets no answer from here (it is
left to the near-name suggestions), never a long wait. bench/match_hostile.py measures it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from msp_tui.matching.normalize import NormalName, other_entity

# Bounds on the work one vendor account may cause: a label longer than any name a company
# writes into its domain, words shared with too many companies to settle anything, or a name
# of more words than a domain could hold are not spelled out; and all the searches for one
# account take `STEPS` steps at most (the real sets: 2,638 for one account at most).
MAX_LABEL = 40
MAX_CANDIDATES = 300
MAX_WORDS = 24
STEPS = 10_000

# Small words a domain leaves out ("University of Strasbourg" -> "unistrasbourg").
SMALL_WORDS = frozenset({"a", "and", "at", "da", "das", "de", "del", "der", "des", "di", "do",
                          "dos", "du", "e", "et", "for", "fur", "in", "la", "le", "of", "the",
                          "y"})  # fmt: skip


class _OutOfSteps(Exception):
    """The searches for one vendor account used up their steps."""


class _Budget:
    def __init__(self, steps: int = STEPS) -> None:
        self.left = steps


def _remembered(step: Callable[..., bool], budget: _Budget) -> Callable[..., bool]:
    """`step` with each state's answer kept, and each new state paid for from `budget`: a
    hostile name (a label of "dedede..." against "de de de ...") would otherwise make the
    search exponential."""
    memo: dict[tuple[Any, ...], bool] = {}

    def go(*state: Any) -> bool:
        if state not in memo:
            budget.left -= 1
            if budget.left < 0:
                raise _OutOfSteps
            memo[state] = step(*state)
        return memo[state]

    return go


def _spells(label: str, words: Sequence[str], budget: _Budget) -> bool:
    """`label` is written with `words`, in order, in one of three ways: whole words, two at most
    left out before or between them ("amitydubai": "amity university dubai"); every word but
    small ones, each whole or by its first letter, a word of four letters or more whole
    ("nisdubai": "nibras international school dubai", "bracu": "brac university"); or `_cut`."""

    def whole_step(at: int, i: int, skipped: int) -> bool:
        if at == len(label):
            return True
        for j in range(i, len(words)):
            word = words[j]
            small = word in SMALL_WORDS  # a word, not "in" or "de"
            if not small and label.startswith(word, at) and whole(at + len(word), j + 1, skipped):
                return True
            skipped += not small
            if skipped > 2:  # "qualifizierung.at" is not "BBQ Baumann Bildung Qualifizierung"
                return False
        return False

    def mixed_step(at: int, i: int, long_word: bool) -> bool:
        if i == len(words):
            return at == len(label) and long_word
        word = words[i]
        if word in SMALL_WORDS and mixed(at, i + 1, long_word):
            return True
        if label.startswith(word, at) and mixed(at + len(word), i + 1, long_word or len(word) > 3):
            return True
        return at < len(label) and label[at] == word[0] and mixed(at + 1, i + 1, long_word)

    if len(words) > MAX_WORDS:
        return False
    if label[0] not in _first_letters(words) and not label.startswith(("the", "and")):
        return False  # a cheap test first: most candidates fail it
    whole, mixed = _remembered(whole_step, budget), _remembered(mixed_step, budget)
    return whole(0, 0, 0) or mixed(0, 0, False) or _cut(label, words, budget)


def _cut(label: str, words: Sequence[str], budget: _Budget) -> bool:
    """`label` is written with `words` in order, each whole, cut short (three letters or more
    of a word of five or more: "gym" of "gymnasium", "univ" of "universite", "prep" of
    "preparatory"), by its first letter (three at most) or left out (small words freely, two
    others at most), with "the" and "and" between them as people write them; a word of four
    letters or more whole, or five cut short, anchors it: "gympapenburg" (Gymnasium
    Papenburg), "univreunion" (Universite de la Reunion), "coloradotech" (Colorado Technical
    University), "thedeweyschools", "dundeeandangus" (Dundee and Angus College)."""

    def step(at: int, i: int, skipped: int, anchored: bool, initials: int) -> bool:
        if at == len(label):
            left = sum(w not in SMALL_WORDS for w in words[i:])
            return anchored and skipped + left <= 2 and initials <= 3
        for filler in ("the", "and"):  # not at the end: "acmethe" is not "The Acme"
            if label.startswith(filler, at, len(label) - 1) and go(at + 3, i, skipped, anchored,
                                                                    initials):  # fmt: skip
                return True
        if i == len(words):
            return False
        word = words[i]
        small = word in SMALL_WORDS
        if skipped + (not small) <= 2 and go(at, i + 1, skipped + (not small), anchored, initials):
            return True
        whole = label.startswith(word, at)
        if whole and go(at + len(word), i + 1, skipped, anchored or len(word) > 3, initials):
            return True
        for n in range(3, len(word)) if len(word) > 4 else ():
            if label.startswith(word[:n], at) and go(at + n, i + 1, skipped, anchored or n > 4,
                                                     initials):  # fmt: skip
                return True
        if small or label[at] != word[0]:
            return False
        return initials < 3 and go(at + 1, i + 1, skipped, anchored, initials + 1)

    go = _remembered(step, budget)
    return go(0, 0, 0, False, 0)


def loosely_spells(label: str, words: Sequence[str], budget: _Budget) -> bool:
    """`label` might be written with `words`: as `_cut`, but any start of a word of two letters
    or more counts and three letters in such pieces are enough ("usherb": "universite de
    sherbrooke", "uwplatt": "university of wisconsin platteville"). For suggestions only."""

    def step(at: int, i: int, skipped: int, letters: int) -> bool:
        if at == len(label):
            return letters > 2 and skipped + sum(w not in SMALL_WORDS for w in words[i:]) <= 2
        if i == len(words):
            return False
        word = words[i]
        small = word in SMALL_WORDS
        if skipped + (not small) <= 2 and go(at, i + 1, skipped + (not small), letters):
            return True
        for n in range(len(word), 1, -1):
            if label.startswith(word[:n], at) and go(at + n, i + 1, skipped, min(letters + n, 3)):
                return True
        return not small and label[at] == word[0] and go(at + 1, i + 1, skipped, letters)

    if len(words) > MAX_WORDS or label[0] not in _first_letters(words):
        return False
    go = _remembered(step, budget)
    return go(0, 0, 0, 0)


def _first_letters(words: Sequence[str]) -> str:
    """The letters a label written with `words` can start with: two words left out at most."""
    firsts, skipped = "", 0
    for word in words:
        firsts += word[0]
        skipped += word not in SMALL_WORDS
        if skipped > 2:
            break
    return firsts


def _label(v: NormalName) -> str:
    """The domain's first label as written, hyphens gone: "univ-reunion", not the normalised
    "university reunion"; empty when the name is no domain."""
    return v.domain.split(".", 1)[0].replace("-", "") if v.domain else ""


def domain_suggestions(
    v: NormalName, psa_names: Sequence[NormalName], by_start: Mapping[str, list[int]]
) -> list[int]:
    """The PSA companies whose words might write the vendor's domain label (`loosely_spells`),
    when there are three at most: the suggestions a domain's abbreviations deserve
    ("usherb.ca" -> "Université de Sherbrooke"), never a map."""
    label = _label(v)
    if not 4 <= len(label) <= MAX_LABEL:
        return []
    candidates = {i for a in range(len(label) - 3) for i in by_start.get(label[a : a + 4], ())}
    if len(candidates) > MAX_CANDIDATES:
        return []
    budget = _Budget()
    try:
        found = [
            i for i in sorted(candidates) if loosely_spells(label, psa_names[i].tokens, budget)
        ]
    except _OutOfSteps:
        return []
    return found if len(found) <= 3 else []


def domain_spells(
    v: NormalName,
    psa_names: Sequence[NormalName],
    by_word: Mapping[str, list[int]],
    by_initials: Mapping[str, list[int]],
    vendor_leading: Counter[str],
) -> tuple[int, str] | None:
    """The one PSA company whose words write the vendor's domain label, and how: "name in
    domain" (`_spells`: "amitydubai.ae" -> "Amity University Dubai", "deegfeld.net" ->
    "Oberschule Deegfeld", "nisdubai.ae" -> "Nibras International School Dubai"), a label of
    five letters or more; or "initials", four letters or more ("nmsu.edu" -> "New Mexico State
    University"): three ("adp.com", "usp.ac.id") are shared by too many companies. No other
    company may be written by the label either way (under a school's or university's domain,
    no other school or university: "hoshi.ac.jp" is "Hoshi University", not "Hoshi Iryo
    Sanki"), and no other vendor account may start with the company's name ("alaska.edu"
    beside "Alaska Air Group")."""
    if not v.domain or len(v.squash) < 4:
        return None
    initials = set(by_initials.get(v.squash, ()))
    label = _label(v)
    spelled = set()
    if 5 <= len(label) <= MAX_LABEL:
        candidates = {i for a in range(len(label) - 3) for b in range(a + 4, len(label) + 1)
                      for i in by_word.get(label[a:b], ())}  # fmt: skip
        candidates = candidates if len(candidates) <= MAX_CANDIDATES else set()
        budget = _Budget()
        try:
            spelled = {i for i in candidates if _spells(label, psa_names[i].tokens, budget)}
        except _OutOfSteps:
            return None
    found = schools_first(v, spelled | initials, psa_names)  # "hoshi.ac.jp": not "Hoshi Iryo"
    if len(found) != 1:
        return None
    pick = found.pop()
    p = psa_names[pick]
    if vendor_leading[p.key] or other_entity(v, p):
        return None
    return pick, "name in domain" if pick in spelled else "initials"


# Second-level labels of schools' and universities' domains ("ox.ac.uk", "nmsu.edu",
# "jhn.herts.sch.uk"), and words in their names.
ACADEMIC_LABELS = frozenset({"ac", "edu", "sch", "k12", "school", "schule"})
INSTITUTION_WORDS = frozenset({
    "academia", "academie", "academy", "akademie", "college", "colegio", "conservatory",
    "ecole", "escola", "escuela", "faculdade", "facultad", "faculty", "gymnasium", "hochschule",
    "institut", "institute", "instituto", "istituto", "liceo", "lycee", "lyceum", "polytechnic",
    "school", "schools", "schule", "seminary", "universidad", "universidade", "universita",
    "universitas", "universitat", "universite", "universiteit", "university",
})  # fmt: skip


def academic_domain(domain: str) -> bool:
    """A domain only schools and universities register under ("hoshi.ac.jp", "plu.edu")."""
    return not ACADEMIC_LABELS.isdisjoint(domain.split(".")[1:])


def schools_first(v: NormalName, found: set[int], psa_names: Sequence[NormalName]) -> set[int]:
    """Of several companies a school's domain fits, the schools and universities among them
    ("ohio.edu": "Ohio University", not "Ohio Valley Electric"); otherwise `found` as it is."""
    if len(found) > 1 and v.domain and academic_domain(v.domain):
        return {i for i in found if institution(psa_names[i])}
    return found


def institution(name: NormalName) -> bool:
    """A school's or university's name ("Hoshi University", "Gymnasium Papenburg")."""
    return not INSTITUTION_WORDS.isdisjoint(name.tokens) or any(
        t.endswith(("schule", "gymnasium", "skola", "skole")) for t in name.tokens
    )
