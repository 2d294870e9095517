"""Build the labelled evaluation set for account matching (run once; its CSVs are committed).

Sources, both public PyPI packages (install them to rebuild: pip install pytickersymbols faker):
- pytickersymbols: ~1,800 real listed companies, with their websites;
- faker (en_US): 1,000 real US surnames, for the small-business names an MSP's customers have
  ("Gallagher Family Dental", "Pearson & Kramer CPA").

Each base company is one PSA company. Its vendor account is the name as it drifts in real
vendor consoles: case, punctuation, legal forms added, dropped or swapped, & vs and, "The",
the customer's domain instead of its name, squashed words, a typo, an abbreviation, accents.
Distractors that must *not* be auto-mapped are added on purpose:
- siblings in the PSA: "Acme" beside "Acme Holdings", "Gallagher Dental" beside "Gallagher Roofing";
- orphans: vendor accounts whose company is not in the PSA but a sibling is;
- numbered near-twins: "Unit 7 Solutions" vs "Unit 8 Solutions";
- surname near-twins: "Peterson Plumbing" (vendor) when the PSA has only "Petersen Plumbing".

Bases are split by a hash of their name: 60% `tune` (thresholds were chosen on it), 40% `test`.
Output: bench/matching/data/{tune,test}_{vendor,psa,truth}.csv; the vendor and PSA files are
in `msp-tui match` input format, truth is vendor_id,psa_id (empty psa_id: no true partner).
"""

from __future__ import annotations

import csv
import hashlib
import random
import re
import unicodedata
from pathlib import Path

from faker.providers.person.en_US import Provider as UsPeople
from pytickersymbols import PyTickerSymbols

from msp_tui.matching.normalize import normalize_name, registrable_domain

OUT = Path(__file__).with_name("data")
SEED = 20261122

LEGAL = ["Inc", "Inc.", "LLC", "L.L.C.", "Ltd", "Ltd.", "Limited", "Corp", "Corp.",
         "Corporation", "Co.", "Company", "Incorporated", "PLC", "GmbH", "AG", "S.A.", "N.V.",
         "Pty Ltd", "LLP", "PC", "SE"]  # fmt: skip
SIBLING_WORDS = ["Holdings", "Group", "Capital", "Properties", "Foundation", "Logistics",
                 "Dental", "Medical", "Realty", "Partners", "Consulting", "Services",
                 "International", "Ventures", "Energy", "Systems", "Financial", "Labs",
                 "Insurance", "Construction"]  # fmt: skip
SMB_TRADES = ["Dental", "Family Dental", "Orthodontics", "Plumbing", "Plumbing & Heating",
              "Roofing", "Electric", "Law Group", "Law Office", "CPA", "Accounting",
              "& Associates", "Insurance Agency", "Realty", "Construction", "Landscaping",
              "Veterinary Clinic", "Animal Hospital", "Chiropractic", "Physical Therapy",
              "Auto Repair", "Funeral Home", "Pharmacy", "Eye Care", "Dermatology",
              "Pediatrics", "Engineering", "Architects", "Financial Advisors", "Builders",
              "Printing", "Bakery", "Catering", "Trucking", "Machine Shop", "Flooring"]  # fmt: skip
ABBREV = {"International": "Intl", "Services": "Svcs", "Manufacturing": "Mfg",
          "Brothers": "Bros", "Associates": "Assoc", "Management": "Mgmt", "Center": "Ctr",
          "Technologies": "Tech", "Corporation": "Corp", "Company": "Co", "Holdings": "Hldgs",
          "Laboratories": "Labs", "National": "Natl", "Systems": "Sys"}  # fmt: skip
_LEGAL_TAIL = re.compile(
    r",?\s+(Inc\.?|LLC|Ltd\.?|Limited|Corp\.?|Corporation|Co\.|Company|PLC|plc|AG|SE|S\.A\.|"
    r"N\.V\.|GmbH|Incorporated|Holdings Inc)$"
)


def _split(name: str) -> str:
    digest = hashlib.sha256(name.encode()).digest()[0]
    return "tune" if digest % 10 < 6 else "test"


def listed_companies() -> list[tuple[str, str | None]]:
    seen: dict[str, tuple[str, str | None]] = {}
    for stock in PyTickerSymbols().get_all_stocks():
        name = stock["name"].strip()
        website = (stock.get("metadata") or {}).get("website")
        key = normalize_name(name).key
        if key and key not in seen:
            seen[key] = (name, website)
    return sorted(seen.values())


def small_businesses(rng: random.Random, count: int) -> list[tuple[str, str | None]]:
    surnames = sorted(set(UsPeople.last_names))
    names: dict[str, tuple[str, str | None]] = {}
    while len(names) < count:
        a, b = rng.sample(surnames, 2)
        trade = rng.choice(SMB_TRADES)
        shape = rng.random()
        if shape < 0.55:
            name = f"{a} {trade}"
        elif shape < 0.8:
            name = f"{a} & {b} {trade}" if not trade.startswith("&") else f"{a} {b} {trade}"
        elif shape < 0.9:
            name = f"{rng.choice(['Lakeside', 'Northside', 'Summit', 'Riverbend', 'Oak Park', 'Harbor', 'Valley', 'Pinecrest', 'Westgate', 'Meadowbrook'])} {trade}"
        else:
            name = f"{a} Family {trade}"
        if rng.random() < 0.5:
            name += f" {rng.choice(['LLC', 'Inc.', 'PC', 'PLLC', 'Ltd'])}"
        domain = re.sub(r"[^a-z]", "", f"{a}{trade}".lower())[:22] + rng.choice(
            [".com", ".com", ".net", ".us", ".org"]
        )
        key = normalize_name(name).key
        names.setdefault(key, (name, domain))
    return sorted(names.values())


def strip_accents(text: str) -> str:
    return "".join(
        c for c in unicodedata.normalize("NFKD", text) if unicodedata.category(c) != "Mn"
    )


def typo(rng: random.Random, name: str) -> str | None:
    words = name.split()
    long_words = [i for i, w in enumerate(words) if len(w) >= 6 and w.isalpha()]
    if not long_words:
        return None
    i = rng.choice(long_words)
    w = words[i]
    j = rng.randrange(1, len(w) - 1)
    kind = rng.choice(["drop", "swap", "double"])
    if kind == "drop":
        w = w[:j] + w[j + 1 :]
    elif kind == "swap":
        w = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
    else:
        w = w[:j] + w[j] + w[j:]
    words[i] = w
    return " ".join(words)


def vendor_variant(rng: random.Random, name: str, website: str | None) -> tuple[str, str]:
    """The name as a vendor console has it, and what was done to it."""
    bare = _LEGAL_TAIL.sub("", name)
    choices = ["case", "legal", "legal", "punct", "and", "the", "squash", "typo", "abbrev",
               "accent", "hyphen", "domain", "domain", "plain"]  # fmt: skip
    kind = rng.choice(choices)
    out: str | None = None
    if kind == "case":
        out = rng.choice([name.upper(), name.lower(), name.title()])
    elif kind == "legal":
        out = f"{bare}{rng.choice([', ', ' '])}{rng.choice(LEGAL)}" if rng.random() < 0.7 else bare
    elif kind == "punct":
        out = (
            re.sub(r"[.,'\u2019]", "", name) if re.search(r"[.,'\u2019]", name) else f"{bare}, Inc."
        )
    elif kind == "and":
        out = name.replace("&", "and") if "&" in name else name.replace(" and ", " & ")
    elif kind == "the":
        out = f"The {bare}" if not bare.lower().startswith("the ") else bare[4:]
    elif kind == "squash" and 2 <= len(bare.split()) <= 3:
        out = bare.replace(" ", "") if rng.random() < 0.5 else bare.replace(" ", "").lower()
    elif kind == "typo":
        out = typo(rng, name)
    elif kind == "abbrev":
        for long, short in ABBREV.items():
            if re.search(rf"\b{long}\b", name):
                out = re.sub(rf"\b{long}\b", short, name)
                break
    elif kind == "accent" and strip_accents(name) != name:
        out = strip_accents(name)
    elif kind == "hyphen":
        out = name.replace("-", " ") if "-" in name else None
    elif kind == "domain" and website:
        domain = registrable_domain(website)
        label = domain.split(".")[0].replace("-", "") if domain else ""
        # Listed-company websites are sometimes wrong in the source (a sister brand); keep
        # only domains that plausibly are this company's, so the label is true.
        squash = normalize_name(name).full_squash
        if domain and (label in squash or squash.startswith(label[:4])):
            out = domain if rng.random() < 0.6 else f"www.{domain}"
    if out is None or (out == name and kind != "plain"):
        out, kind = rng.choice([(name.upper(), "case"), (f"{bare} Inc", "legal")])
    return out, kind


def build() -> None:
    rng = random.Random(SEED)
    bases = [(n, w, "listed") for n, w in listed_companies()]
    bases += [(n, w, "smb") for n, w in small_businesses(rng, 900)]
    sets: dict[str, dict[str, list]] = {
        s: {"vendor": [], "psa": [], "truth": []} for s in ("tune", "test")
    }
    counters = {"tune": 0, "test": 0}

    def next_id(split: str, prefix: str) -> str:
        counters[split] += 1
        return f"{prefix}{counters[split]:05d}"

    used_keys = {normalize_name(n).key for n, _, _ in bases}
    for name, website, origin in bases:
        split = _split(name)
        out = sets[split]
        roll = rng.random()
        psa_id = next_id(split, "C")
        orphan = roll < 0.12
        if not orphan:
            psa_name = name if rng.random() < 0.5 or _LEGAL_TAIL.search(name) else (
                f"{name} {rng.choice(['Inc.', 'LLC', 'Ltd', 'Corporation', 'Inc', 'Co.'])}"
            )  # fmt: skip
            out["psa"].append((psa_id, psa_name, website or ""))
        # A sibling: same first words, one different word; present for orphans always.
        if orphan or roll < 0.35:
            bare = _LEGAL_TAIL.sub("", name)
            words = bare.split()
            if origin == "smb" and len(words) >= 2 and rng.random() < 0.6:
                sibling = f"{words[0]} {rng.choice([t for t in SMB_TRADES if t not in bare])}"
            else:
                sibling = f"{bare} {rng.choice(SIBLING_WORDS)}"
            if normalize_name(sibling).key not in used_keys:
                used_keys.add(normalize_name(sibling).key)
                out["psa"].append((next_id(split, "C"), sibling, ""))
        variant, kind = vendor_variant(rng, name, website)
        vendor_id = next_id(split, "V")
        domain = registrable_domain(website) if website and rng.random() < 0.3 else None
        out["vendor"].append((vendor_id, variant, domain or "", kind, origin))
        out["truth"].append((vendor_id, "" if orphan else psa_id))

    # Surname near-twins (one letter changed): "Peterson Plumbing" is not "Petersen Plumbing".
    surnames = sorted(set(UsPeople.last_names))
    twins = [
        (a, b) for i, a in enumerate(surnames) for b in surnames[i + 1 :]
        if len(a) == len(b) and len(a) >= 5 and sum(x != y for x, y in zip(a, b, strict=True)) == 1
    ]  # fmt: skip
    for n, (a, b) in enumerate(twins):
        split = "tune" if n % 10 < 6 else "test"
        out = sets[split]
        trade = rng.choice(SMB_TRADES)
        keys = {normalize_name(f"{x} {trade}").key for x in (a, b)}
        if keys & used_keys:
            continue
        used_keys |= keys
        out["psa"].append((next_id(split, "C"), f"{b} {trade}", ""))
        vendor_id = next_id(split, "V")
        out["vendor"].append((vendor_id, f"{a} {trade}", "", "twin", "smb"))
        out["truth"].append((vendor_id, ""))

    # Numbered near-twins: only one of each pair is the customer's.
    for n in range(60):
        split = "tune" if n % 10 < 6 else "test"
        out = sets[split]
        stem = rng.choice(["Unit", "Suite", "Station", "Route", "District", "Phase", "Building"])
        trade = rng.choice(SMB_TRADES)
        a = rng.randint(1, 40)
        psa_id = next_id(split, "C")
        out["psa"].append((psa_id, f"{stem} {a} {trade}", ""))
        out["psa"].append((next_id(split, "C"), f"{stem} {a + 1} {trade}", ""))
        vendor_id = next_id(split, "V")
        out["vendor"].append((vendor_id, f"{stem} {a} {trade} LLC", "", "number", "smb"))
        out["truth"].append((vendor_id, psa_id))
        vendor_id = next_id(split, "V")
        out["vendor"].append((vendor_id, f"{stem} {a + 2} {trade}", "", "number", "smb"))
        out["truth"].append((vendor_id, ""))

    OUT.mkdir(exist_ok=True)
    for split, files in sets.items():
        rng.shuffle(files["psa"])
        rng.shuffle(files["vendor"])
        _write(OUT / f"{split}_psa.csv", ["id", "name", "website"], files["psa"])
        _write(OUT / f"{split}_vendor.csv", ["id", "name", "domain", "variant", "origin"],
               files["vendor"])  # fmt: skip
        _write(OUT / f"{split}_truth.csv", ["vendor_id", "psa_id"], sorted(files["truth"]))
        pairs = sum(1 for _, p in files["truth"] if p)
        print(f"{split}: {len(files['vendor'])} vendor accounts ({pairs} with a true partner),"
              f" {len(files['psa'])} PSA companies")  # fmt: skip


def _write(path: Path, header: list[str], rows: list) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)


if __name__ == "__main__":
    build()
