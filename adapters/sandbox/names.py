"""Made-up business names that look like an MSP's customer list, and the ways a vendor portal
misspells them. Word lists are small on purpose: combinations give thousands of names.
"""

from __future__ import annotations

import random
import re


def _words(text: str) -> list[str]:
    return text.split()


SURNAMES = _words("""
Anderson Baker Bennett Brooks Callahan Carter Castillo Chen Coleman Delgado Donovan Dubois Ellis
Fischer Fitzgerald Foster Garcia Gallagher Goldberg Gonzalez Graham Greene Hansen Harper Hayes
Henderson Hoffman Holloway Hughes Jensen Kaplan Keller Kennedy Kim Kowalski Lambert Larsen Lee
Lindqvist Lopez Mahoney Marino Martinez McAllister Mendoza Meyer Monroe Morales Murphy Nakamura
Nguyen Novak O'Brien Okafor Olsen Ortiz Patel Pearson Perez Peterson Pham Quinn Ramirez Reyes
Richter Rivera Robinson Rossi Russo Sanchez Schmidt Schneider Shapiro Sullivan Svensson Tanaka
Thornton Torres Turner Vasquez Wagner Walsh Weber Whitaker Wilson Wong Yamamoto Zimmerman
""")

PLACES = """
Riverside|Lakeview|Summit|Harbor|Cedar Creek|Northgate|Maple Grove|Bayview|Pinecrest|Oakridge|
Westfield|Brookside|Granite|Redwood|Silver Lake|Prairie|Coastal|Mountain View|Valley|Metro|
Capitol|Heritage|Pioneer|Liberty|Evergreen|Blue Ridge|Sunrise|Keystone|Tri-County|Hillside|
Eastside|Lakeshore|Stonebridge|Willow Creek|Fox River|Clearwater|Highland|Meadowbrook|Ironwood|
Great Plains|Sandpoint|Old Mill|Crossroads|Golden Gate|Bluewater|Timberline|Canyon|Seaside
""".replace("\n", "").split("|")

# (trade, takes two partners' names) - law firms and accountants are "Shapiro & Keller".
TRADES = [
    ("Dental", False), ("Family Dentistry", False), ("Orthodontics", False),
    ("Plumbing", False), ("Plumbing & Heating", False), ("Electric", False), ("Roofing", False),
    ("Law Group", True), ("Legal", True), ("CPA", True), ("Accounting", True),
    ("Tax Services", False), ("Logistics", False), ("Trucking", False), ("Freight", False),
    ("Veterinary Clinic", False), ("Animal Hospital", False), ("Insurance Agency", False),
    ("Realty", False), ("Properties", False), ("Construction", False), ("Builders", False),
    ("Landscaping", False), ("HVAC", False), ("Auto Repair", False), ("Motors", False),
    ("Chiropractic", False), ("Physical Therapy", False), ("Pediatrics", False),
    ("Eye Care", False), ("Pharmacy", False), ("Bakery", False), ("Brewing Company", False),
    ("Engineering", True), ("Architects", True), ("Consulting", False),
    ("Financial Advisors", True), ("Wealth Management", False), ("Title & Escrow", False),
    ("Printing", False), ("Machine Works", False), ("Manufacturing", False),
    ("Medical Group", False), ("Staffing", False), ("Marketing", False), ("Design Studio", False),
]  # fmt: skip

LEGAL_SUFFIXES = ["Inc", "Inc.", "LLC", "LLC", "Ltd", "Corp", "Corp.", "LLP", "PLLC"]
_LEGAL_WORDS = {"inc", "llc", "ltd", "corp", "llp", "pllc", "co"}

FIRST_NAMES = _words("""
Maria James Aisha Robert Priya David Elena Michael Sofia Daniel Grace Omar Hannah Luis Mei Tom
""")


def name_key(name: str) -> str:
    """What a careful person would still call the same name: case, '&', legal form ignored."""
    words = re.sub(r"[^\w&]+", " ", name.casefold().replace("&", " and ")).split()
    while len(words) > 1 and words[-1] in _LEGAL_WORDS:
        words.pop()
    return " ".join(words)


def squash(name: str) -> str:
    """'Harbor Dental & Sons' -> 'HarborDentalSons': a PSA identifier or a domain label."""
    return "".join(w[:1].upper() + w[1:] for w in re.findall(r"[A-Za-z0-9]+", name))


class NameMaker:
    """Unique company names; uniqueness is by `name_key`, so matching has one right answer."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.taken: set[str] = set()

    def _base(self) -> str:
        rng = self.rng
        trade, partners = rng.choice(TRADES)
        roll = rng.random()
        if partners and roll < 0.6:
            first, second = rng.sample(SURNAMES, 2)
            return f"{first} & {second} {trade}"
        if roll < 0.15:
            return f"{rng.choice(SURNAMES)} & Sons {trade}"
        return f"{rng.choice(SURNAMES + PLACES)} {trade}"

    def company(self) -> tuple[str, str]:
        """(full name, name without its legal form)."""
        for _ in range(40):
            base = self._base()
            if name_key(base) not in self.taken:
                break
        else:  # a crowded world: say where the branch is, as real businesses do
            n = len(self.taken)
            base = f"{self._base()} of {PLACES[n % len(PLACES)]} {n}"
        self.taken.add(name_key(base))
        if self.rng.random() < 0.65:
            return f"{base} {self.rng.choice(LEGAL_SUFFIXES)}", base
        return base, base

    def unrelated(self) -> str:
        """A group name that shares nothing with any PSA company (an owner, a legacy label)."""
        rng = self.rng
        for _ in range(40):
            name = rng.choice(
                [
                    f"{rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)}",
                    f"Dr. {rng.choice(FIRST_NAMES)} {rng.choice(SURNAMES)}",
                    f"Legacy account {rng.randint(100, 9999)}",
                    f"{rng.choice(SURNAMES)} Family Office",
                    f"DG-{rng.randint(1000, 99999)}",
                ]
            )
            if name_key(name) not in self.taken:
                self.taken.add(name_key(name))
                return name
        return f"Customer {len(self.taken)}"


def exact_variant(rng: random.Random, name: str, base: str) -> str:
    """The same name after trivial normalisation: case, legal form, '&' versus 'and'."""
    choice = rng.randrange(6)
    if choice == 1:
        return base
    if choice == 2:
        return name.upper()
    if choice == 3:
        return base.lower()
    if choice == 4 and "&" in name:
        return name.replace("&", "and")
    if choice == 5 and name != base:
        return f"{base}, {name[len(base) + 1 :]}"
    return name


def typo(rng: random.Random, text: str) -> str:
    """One keyboard slip in a word of four or more letters: swap, drop or double a letter."""
    words = text.split(" ")
    long_words = [i for i, w in enumerate(words) if len(w) >= 4 and w.isalpha()]
    if not long_words:
        return text + "s"
    i = rng.choice(long_words)
    word = words[i]
    j = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(3)
    if kind == 0 and word[j] != word[j + 1]:
        word = word[:j] + word[j + 1] + word[j] + word[j + 2 :]
    elif kind == 1:
        word = word[:j] + word[j + 1 :]
    else:
        word = word[:j] + word[j] + word[j:]
    words[i] = word
    return " ".join(words)


def near_variant(rng: random.Random, base: str, domain: str) -> str:
    """Close but not equal: a typo, the customer's domain, or the name squashed together."""
    choice = rng.randrange(3)
    if choice == 0:
        return typo(rng, base)
    if choice == 1:
        return domain
    return squash(base)
