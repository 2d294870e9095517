"""One name inside the other: "Cisco" and "CISCO SYSTEMS, INC.", "GOLDMAN SACHS GROUP INC" and
"Goldman Sachs", "bournemouth.ac.uk" and "Bournemouth University".

Containment is how vendor consoles and PSAs most often differ (one keeps the legal name, the
other what people say), and how wrong maps are most often made: "PFIZER MANUFACTURING BELGIUM"
starts with "Pfizer" too. So it maps only when nothing else could be meant, on both sides:

- one PSA company, and only one, is in the relation with the vendor account; a vendor name
  shorter than the company's is the start of no other company's ("Digital" beside "Digital
  Turbine" settles nothing);
- no other vendor account of the run starts with the shorter name (accounts "Pfizer" and
  "Pfizer Manufacturing Belgium": which one is the PSA's "Pfizer"?);
- the words added are few (at most three) and carry no numbers ("Target 63 GmbH");
- the legal forms agree (`other_entity`), and a name with a legal form is whole: "Nexon Inc"
  is not "Nexon Holdings", though "Nexon" may be.

bench/match_quality.py measures these rules on real names (bench/README.md, "Matching").
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from msp_tui.matching.normalize import NormalName, other_entity

# Words that name a company's place in its group, not another line of business: "Nexon" may
# be "Nexon Holdings" even when another account starts with "Nexon".
GROUP_WORDS = frozenset({"holdings", "holding", "group", "international", "global", "worldwide",
                         "enterprises", "companies", "industries", "company", "co"})  # fmt: skip
MAX_ADDED_WORDS = 3
_DIGIT = re.compile(r"\d")


def leading_parts(names: Iterable[NormalName]) -> Counter[str]:
    """How many of `names` start with each run of leading words (a whole key counts too):
    "acme dental east" counts for "acme", "acme dental" and "acme dental east"."""
    counts: Counter[str] = Counter()
    for name in names:
        words = name.tokens
        counts.update(" ".join(words[:k]) for k in range(1, len(words) + 1))
    return counts


def group_extension(short: NormalName, long: NormalName) -> bool:
    """`long` is `short` followed by group words only ("Otsuka" -> "Otsuka Holdings")."""
    extra = long.tokens[len(short.tokens) :]
    return bool(extra) and long.key.startswith(short.key + " ") and GROUP_WORDS.issuperset(extra)


def _few_plain_words(words: Sequence[str]) -> bool:
    return 0 < len(words) <= MAX_ADDED_WORDS and not any(_DIGIT.search(w) for w in words)


def vendor_leads(
    v: NormalName,
    psa_names: Sequence[NormalName],
    by_prefix: Mapping[str, list[int]],
    vendor_leading: Counter[str],
) -> int | None:
    """The one PSA company whose name is the vendor's followed by a few words ("Cisco" ->
    "CISCO SYSTEMS, INC.", "aalto.fi" -> "Aalto University"; "ohio.edu" -> "Ohio University"
    beside "Ohio Valley Electric": a school's domain is a school). The caller has made sure no
    company has the vendor's name itself. The vendor's name must be bare: "Nexon Inc" is a
    whole legal name, and not the holding's (and "SUN MOBILITY PTE. LTD." is not "Sun
    Mobility EV Infra Private Limited")."""
    if v.legal or v.full_squash != v.squash or len(v.squash) < 4:
        return None
    longer = set(by_prefix.get(v.key, ()))
    if len(longer) > 1 and v.domain and academic_domain(v.domain):  # "ohio.edu"
        longer = {i for i in longer if institution(psa_names[i])}
    if len(longer) != 1:
        return None
    pick = longer.pop()
    p = psa_names[pick]
    if group_extension(v, p):
        return pick
    added = p.tokens[len(v.tokens) :]
    alone = vendor_leading[v.key] <= 1
    return pick if alone and _few_plain_words(added) and not other_entity(v, p) else None


def company_leads(
    v: NormalName,
    psa_names: Sequence[NormalName],
    by_key: Mapping[str, list[int]],
    vendor_leading: Counter[str],
) -> int | None:
    """The one PSA company whose whole name is the vendor's followed by a few words
    ("MERCURY SYSTEMS INC" -> "Mercury"). The caller has made sure no company has the
    vendor's name itself, or starts with it. Other companies starting with the company's
    name ("Mercury Control AG") do not stand in the way: none of them is the vendor's."""
    words = v.tokens
    found = {i for k in range(1, len(words)) for i in by_key.get(" ".join(words[:k]), ())}
    if len(found) != 1:
        return None
    pick = found.pop()
    p = psa_names[pick]
    if (
        len(p.squash) < (3 if len(p.tokens) > 1 else 5)  # "Core Corp" owns no "Core Tech ..."
        or vendor_leading[p.key] > 1  # accounts "Pfizer" and "Pfizer Manufacturing Belgium"
        or not _few_plain_words(words[len(p.tokens) :])
        or other_entity(v, p)
    ):
        return None
    return pick


def _cut_short(short: Sequence[str], long: Sequence[str]) -> bool | None:
    """`short` is `long`'s leading words with some after the first cut short, three letters
    or more ("sun pharma" of "sun pharmaceutical industries"): True; the leading words
    exactly: False; neither: None."""
    if len(short) > len(long) or short[0] != long[0]:
        return None
    cut = False
    for part, word in zip(short[1:], long[1:], strict=False):
        if part != word:
            if len(part) < 3 or not word.startswith(part) or _DIGIT.search(part):
                return None
            cut = True
    return cut


def shortened(
    v: NormalName,
    psa_names: Sequence[NormalName],
    by_first: Mapping[str, list[int]],
    vendor_leading: Counter[str],
) -> int | None:
    """The one PSA company that is the vendor's name with words cut short, or the other way
    round ("Agios Pharm" and "AGIOS PHARMACEUTICALS, INC.", "Marriott Int" and "MARRIOTT
    INTERNATIONAL INC"), a few words added at most, under the rules of the others: no other
    company in either relation, the legal forms agree, a shorter name with a legal form has
    nothing added. The caller makes sure no other vendor account of the run claims it."""
    words = v.tokens
    if len(words) < 2:  # a word cut short comes after the first: one word has none
        return None
    same_first = by_first.get(words[0], ())
    if len(same_first) > 200:  # "First ...", "University ...": too common to settle anything
        return None
    found = []
    for i in same_first:
        p = psa_names[i]
        if (vendor_short := _cut_short(words, p.tokens)) is not None:
            found.append((i, vendor_short, v, p))
        elif (psa_short := _cut_short(p.tokens, words)) is not None:
            found.append((i, psa_short, p, v))
    if len(found) != 1 or not found[0][1]:
        return None
    pick, _, short, long = found[0]
    added = long.tokens[len(short.tokens) :]
    if added and (short.legal or not _few_plain_words(added)):
        return None
    if vendor_leading[psa_names[pick].key] > (psa_names[pick].key == v.key) or other_entity(
        v, psa_names[pick]
    ):
        return None
    return pick


# Bounds on the work one domain may cause (vendor names are untrusted): a label longer than
# any name a company writes in its domain, or words shared with too many companies to settle
# anything, are not spelled out.
MAX_LABEL = 40
MAX_CANDIDATES = 300

# Small words a domain leaves out ("University of Strasbourg" -> "unistrasbourg").
SMALL_WORDS = frozenset({"a", "and", "at", "da", "das", "de", "del", "der", "des", "di", "do",
                          "dos", "du", "e", "et", "for", "fur", "in", "la", "le", "of", "the",
                          "y"})  # fmt: skip


def _spells(label: str, words: Sequence[str]) -> bool:
    """`label` is written with `words`, in order, in one of three ways: whole words, two at most
    left out before or between them ("amitydubai": "amity university dubai"); every word but
    small ones, each whole or by its first letter, a word of four letters or more whole
    ("nisdubai": "nibras international school dubai", "bracu": "brac university"); or `_cut`."""

    def whole(at: int, i: int, skipped: int) -> bool:
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

    def mixed(at: int, i: int, long_word: bool) -> bool:
        if i == len(words):
            return at == len(label) and long_word
        word = words[i]
        if word in SMALL_WORDS and mixed(at, i + 1, long_word):
            return True
        if label.startswith(word, at) and mixed(at + len(word), i + 1, long_word or len(word) > 3):
            return True
        return at < len(label) and label[at] == word[0] and mixed(at + 1, i + 1, long_word)

    if label[0] not in _first_letters(words) and not label.startswith(("the", "and")):
        return False  # a cheap test first: most candidates fail it
    return whole(0, 0, 0) or mixed(0, 0, False) or _cut(label, tuple(words))


def _cut(label: str, words: tuple[str, ...]) -> bool:
    """`label` is written with `words` in order, each whole, cut short (three letters or more
    of a word of five or more: "gym" of "gymnasium", "univ" of "universite", "prep" of
    "preparatory"), by its first letter (three at most) or left out (small words freely, two
    others at most), with "the" and "and" between them as people write them; a word of four
    letters or more whole, or five cut short, anchors it: "gympapenburg" (Gymnasium
    Papenburg), "univreunion" (Universite de la Reunion), "coloradotech" (Colorado Technical
    University), "thedeweyschools", "dundeeandangus" (Dundee and Angus College)."""
    memo: dict[tuple[int, int, int, bool, int], bool] = {}

    def go(*state: Any) -> bool:  # remembered: a hostile label must not take exponential time
        if state not in memo:
            memo[state] = step(*state)
        return memo[state]

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

    return go(0, 0, 0, False, 0)


def loosely_spells(label: str, words: tuple[str, ...]) -> bool:
    """`label` might be written with `words`: as `_cut`, but any start of a word of two letters
    or more counts and three letters in such pieces are enough ("usherb": "universite de
    sherbrooke", "uwplatt": "university of wisconsin platteville"). For suggestions only."""
    memo: dict[tuple[int, int, int, int], bool] = {}

    def go(*state: Any) -> bool:
        if state not in memo:
            memo[state] = step(*state)
        return memo[state]

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


def domain_suggestions(
    v: NormalName, psa_names: Sequence[NormalName], by_start: Mapping[str, list[int]]
) -> list[int]:
    """The PSA companies whose words might write the vendor's domain label (`loosely_spells`),
    when there are three at most: the suggestions a domain's abbreviations deserve
    ("usherb.ca" -> "Université de Sherbrooke"), never a map."""
    label = v.domain.split(".", 1)[0].replace("-", "") if v.domain else ""
    if not 4 <= len(label) <= MAX_LABEL:
        return []
    candidates = {i for a in range(len(label) - 3) for i in by_start.get(label[a : a + 4], ())}
    if len(candidates) > MAX_CANDIDATES:
        return []
    found = [
        i
        for i in sorted(candidates)
        if label[0] in _first_letters(psa_names[i].tokens)
        and loosely_spells(label, tuple(psa_names[i].tokens))
    ]
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
    label = v.domain.split(".", 1)[0].replace("-", "")  # as written: "univ", not "university"
    spelled = set()
    if 5 <= len(label) <= MAX_LABEL:
        candidates = {i for a in range(len(label) - 3) for b in range(a + 4, len(label) + 1)
                      for i in by_word.get(label[a:b], ())}  # fmt: skip
        candidates = candidates if len(candidates) <= MAX_CANDIDATES else set()
        spelled = {i for i in candidates if _spells(label, psa_names[i].tokens)}
    found = spelled | initials
    if len(found) > 1 and academic_domain(v.domain):  # "hoshi.ac.jp": not "Hoshi Iryo Sanki"
        found = {i for i in found if institution(psa_names[i])}
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


def institution(name: NormalName) -> bool:
    """A school's or university's name ("Hoshi University", "Gymnasium Papenburg")."""
    return not INSTITUTION_WORDS.isdisjoint(name.tokens) or any(
        t.endswith(("schule", "gymnasium", "skola", "skole")) for t in name.tokens
    )
