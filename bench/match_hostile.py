"""What hostile domain names cost the matcher, beside ordinary ones.

    python bench/match_hostile.py [--accounts 20]

Vendor account names come from outside (a vendor's push, a console's export), and the domain
rules spell a label out against PSA names, which is search. This times `match_accounts` for
accounts whose domains are built to make that search as wide as it can go (a long label of
one repeated pair of letters, against PSA names made of the same letters, words starting alike
and many small words) and, as the baseline, the same number of ordinary domains, against the
same PSA side (the evaluation set's real names plus the crafted ones). Best of five each.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from msp_tui.matching.engine import Party, match_accounts, prepare_psa

DATA = Path(__file__).with_name("matching") / "data"


def crafted_psa() -> list[Party]:
    """Names that repeated "ab" and "de" labels could be written with, in as many ways as
    possible: words starting alike, and runs of a small word ("de") a domain may leave out."""
    alike = [" ".join("ab" * (1 + (i + j) % 4) for j in range(12)) for i in range(290)]
    small = [" ".join(["de"] * 22 + ["dede" + "x" * (i % 3)]) for i in range(290)]
    return [Party(f"X{i}", name) for i, name in enumerate(alike + small)]


def best(vendors: list[Party], psa: object) -> float:
    times = []
    for _ in range(5):
        start = time.perf_counter()
        match_accounts(vendors, psa)  # type: ignore[arg-type]
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=20, help="accounts of each kind")
    args = parser.parse_args()
    with (DATA / "real_psa.csv").open(encoding="utf-8") as fh:
        real = [Party(r["id"], r["name"]) for r in csv.DictReader(fh)]
    with (DATA / "real_vendor.csv").open(encoding="utf-8") as fh:
        domains = [r["name"] for r in csv.DictReader(fh) if r["kind"] == "domain-vs-name"]
    crafted = crafted_psa()
    psa = prepare_psa(real + crafted)
    n = args.accounts
    hostile = [
        Party(f"H{i}", (("ab", "de")[i % 2] * 20)[: 40 - i % 11] + "q.com") for i in range(n)
    ]
    ordinary = [Party(f"O{i}", domains[i % len(domains)]) for i in range(n)]
    base, bad = best(ordinary, psa), best(hostile, psa)
    print(f"PSA side: {len(real):,} real names + {len(crafted)} crafted")
    print(f"{n} ordinary domains (the baseline): {base * 1000:7.1f} ms")
    print(f"{n} hostile domains:                 {bad * 1000:7.1f} ms = {bad / base:.1f}x")


if __name__ == "__main__":
    main()
