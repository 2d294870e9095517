"""Speed of `msp-tui match` on 10,000 x 10,000 names, beside a naive extractOne loop.

    python bench/match_speed.py [--size 10000] [--naive-sample 0] [--against DIR]

Both run in this process's run, on the same input. Ours is the whole command, end to end
(`python -m msp_tui match --vendor V.csv --psa P.csv --out OUT.csv` in a subprocess: start-up,
reading, normalising, scoring, writing), timed by wall clock, best of three, with the child's
peak resident memory. The baseline is `process.extractOne(name, choices, scorer=WRatio)` for
every vendor name (the loop the issue names); `--naive-sample N` times N names of it and
scales up, for a quicker look, and says so. `--against DIR` also times the same command from
another checkout (`git worktree add DIR REV`), in turns with ours, and prints the ratio: how a
change to the matcher moved its time.

Names: the evaluation set's real company names and the shapes of small-business names, grown
to the size asked for with a fixed seed, plus vendor-side variants (case, legal forms, typos,
domains), so the work resembles a real onboarding rather than random strings.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rapidfuzz import process
from rapidfuzz.fuzz import WRatio

DATA = Path(__file__).with_name("matching") / "data"
SEED = 7


def corpus(size: int, rng: random.Random) -> tuple[list[str], list[str]]:
    real = []
    for split in ("tune", "test"):
        with (DATA / f"{split}_psa.csv").open(encoding="utf-8") as fh:
            real += [r["name"] for r in csv.DictReader(fh)]
    words = sorted({w for name in real for w in name.split() if w.isalpha() and len(w) > 2})
    psa = list(dict.fromkeys(real))
    while len(psa) < size:
        psa.append(" ".join(rng.sample(words, rng.choice([1, 2, 2, 3, 3, 4]))) +
                   rng.choice(["", "", " Inc.", " LLC", " Ltd", " Corporation"]))  # fmt: skip
    psa = psa[:size]
    vendor = []
    for name in rng.sample(psa, size):
        roll = rng.random()
        if roll < 0.3:
            vendor.append(name.upper())
        elif roll < 0.5:
            vendor.append(name.split(" Inc.")[0] + " LLC")
        elif roll < 0.65:
            vendor.append(name.replace(" ", "").lower() + ".com")
        elif roll < 0.8 and len(name) > 8:
            i = rng.randrange(2, len(name) - 2)
            vendor.append(name[:i] + name[i + 1 :])
        else:
            vendor.append(" ".join(rng.sample(words, rng.choice([1, 2, 3]))))
    return vendor, psa


def write(path: Path, names: list[str], prefix: str) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "name"])
        w.writerows((f"{prefix}{i}", n) for i, n in enumerate(names))


def run_ours(vendor_csv: Path, psa_csv: Path, out: Path, checkout: Path | None = None) -> float:
    """`msp-tui match` end to end, from this checkout or `checkout`."""
    env = None if checkout is None else {**os.environ, "PYTHONPATH": str(checkout)}
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "msp_tui", "match", "--vendor", str(vendor_csv),
         "--psa", str(psa_csv), "--out", str(out)],
        check=True, capture_output=True, env=env, cwd=checkout,
    )  # fmt: skip
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_000)
    parser.add_argument("--naive-sample", type=int, default=0, metavar="N",
                        help="time the naive loop on N vendor names and scale (0: all)")  # fmt: skip
    parser.add_argument("--against", type=Path, metavar="DIR",
                        help="another checkout to time the same command from, in turns")  # fmt: skip
    args = parser.parse_args()
    vendor, psa = corpus(args.size, random.Random(SEED))
    with tempfile.TemporaryDirectory() as tmp:
        v_csv, p_csv, out = Path(tmp, "v.csv"), Path(tmp, "p.csv"), Path(tmp, "out.csv")
        write(v_csv, vendor, "V")
        write(p_csv, psa, "C")
        ours = min(run_ours(v_csv, p_csv, out) for _ in range(3))
        peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        with out.open(encoding="utf-8") as fh:
            decisions = [r["decision"] for r in csv.DictReader(fh)]
        if args.against:
            other_out = Path(tmp, "other.csv")
            pairs = [(run_ours(v_csv, p_csv, out), run_ours(v_csv, p_csv, other_out, args.against))
                     for _ in range(5)]  # fmt: skip

    sample = vendor if not args.naive_sample else vendor[: args.naive_sample]
    start = time.perf_counter()
    for name in sample:
        process.extractOne(name, psa, scorer=WRatio)
    naive = (time.perf_counter() - start) * len(vendor) / len(sample)

    print(f"input: {len(vendor):,} vendor x {len(psa):,} PSA names")
    print(f"msp-tui match, end to end (best of 3): {ours:.2f} s wall, peak RSS {peak_mib:,.0f} MiB")
    print(
        f"  decisions: {decisions.count('auto'):,} auto, {decisions.count('suggested'):,}"
        f" suggested, {decisions.count('none'):,} none"
    )
    scaled = "" if len(sample) == len(vendor) else f" (timed on {len(sample):,}, scaled)"
    print(f"naive extractOne(WRatio) loop: {naive:.1f} s wall{scaled}")
    print(f"speed-up: {naive / ours:.1f}x")
    if args.against:
        mine, other = min(p[0] for p in pairs), min(p[1] for p in pairs)
        print(f"against {args.against} (in turns, best of 5 each): {other:.2f} s; this checkout"
              f" {mine:.2f} s = {mine / other:.2f}x")  # fmt: skip


if __name__ == "__main__":
    main()
