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

from msp_tui.matching.domains import schools_first
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
    longer = schools_first(v, set(by_prefix.get(v.key, ())), psa_names)  # "ohio.edu"
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
