"""Account matching quality on the labelled evaluation sets, through `msp-tui match` end to end.

    python bench/match_quality.py            # tune, test, real, heldout and final
    python bench/match_quality.py --split tune --by-variant
    python bench/match_quality.py --split real --show-errors 40

Splits: `tune` and `test` are generated drift of real names (bench/matching/build_eval.py);
`real`, `heldout` and `final` are real name pairs from independent sources, nothing drifted by
hand (bench/matching/build_real_eval.py), three disjoint samples: rules are designed on `real`
and `heldout` (held out until the rules of 2026-12-04 were scored on it once, then read), whose
misses may be read, and scored on `final`, whose misses are never printed (`--show-errors`
skips it). Their breakdowns group by the vendor file's `kind` column.

Prints, per split and per method: precision of auto maps, share of true pairs auto-mapped
(coverage), and share of accounts with a true partner whose partner is the auto map or the top
suggestion (top-1). Baselines in the same run: exact (character-for-character equal names, as
the hosted product does) and naive (rapidfuzz extractOne with WRatio, cutoff 90, on raw names).
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

from rapidfuzz import process
from rapidfuzz.fuzz import WRatio

DATA = Path(__file__).with_name("matching") / "data"
SPLITS = ["tune", "test", "real", "heldout", "final"]
HELD_OUT = {"final"}  # scored, never read


def read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def ours(split: str) -> dict[str, tuple[str, str]]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.csv"
        subprocess.run(
            [sys.executable, "-m", "msp_tui", "match", "--vendor", str(DATA / f"{split}_vendor.csv"),
             "--psa", str(DATA / f"{split}_psa.csv"), "--out", str(out)],
            check=True, capture_output=True,
        )  # fmt: skip
        return {r["vendor_id"]: (r["decision"], r["psa_id"]) for r in read(out)}


def exact(split: str) -> dict[str, tuple[str, str]]:
    psa = {r["name"]: r["id"] for r in read(DATA / f"{split}_psa.csv")}
    return {
        v["id"]: ("auto", psa[v["name"]]) if v["name"] in psa else ("none", "")
        for v in read(DATA / f"{split}_vendor.csv")
    }


def naive(split: str) -> dict[str, tuple[str, str]]:
    psa = read(DATA / f"{split}_psa.csv")
    names = [p["name"] for p in psa]
    result = {}
    for v in read(DATA / f"{split}_vendor.csv"):
        best = process.extractOne(v["name"], names, scorer=WRatio, score_cutoff=90)
        result[v["id"]] = ("auto", psa[best[2]]["id"]) if best else ("none", "")
    return result


def score(
    decisions: dict[str, tuple[str, str]], truth: dict[str, str], only: set[str] | None = None
):
    autos = correct = top1 = partnered = 0
    for vid, true_psa in truth.items():
        if only is not None and vid not in only:
            continue
        decision, psa_id = decisions[vid]
        if decision == "auto":
            autos += 1
            correct += psa_id == true_psa
        if true_psa:
            partnered += 1
            top1 += decision in ("auto", "suggested") and psa_id == true_psa
    auto_correct_pairs = sum(
        1 for vid, t in truth.items()
        if t and (only is None or vid in only) and decisions[vid] == ("auto", t)
    )  # fmt: skip
    return {
        "auto": autos,
        "precision": correct / autos if autos else 1.0,
        "coverage": auto_correct_pairs / partnered if partnered else 0.0,
        "top1": top1 / partnered if partnered else 0.0,
        "wrong_autos": autos - correct,
        "pairs": partnered,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=SPLITS, action="append")
    parser.add_argument(
        "--by-variant", action="store_true", help="break ours down by variant (real: by kind)"
    )
    parser.add_argument(
        "--show-errors", type=int, default=0, metavar="N",
        help="print up to N of each: wrong autos, misses, right only as the top suggestion",
    )  # fmt: skip
    args = parser.parse_args()
    for split in args.split or SPLITS:
        truth = {r["vendor_id"]: r["psa_id"] for r in read(DATA / f"{split}_truth.csv")}
        vendors = read(DATA / f"{split}_vendor.csv")
        print(f"\n{split}: {len(truth)} vendor accounts, {sum(map(bool, truth.values()))} true pairs,"
              f" {len(read(DATA / f'{split}_psa.csv'))} PSA companies")  # fmt: skip
        print(
            f"  {'method':<8} {'auto':>5} {'precision':>10} {'coverage':>9} {'top-1':>7} {'wrong':>6}"
        )
        results = {}
        for method in (exact, naive, ours):
            results[method.__name__] = decisions = method(split)
            s = score(decisions, truth)
            print(f"  {method.__name__:<8} {s['auto']:>5} {s['precision']:>10.2%} {s['coverage']:>9.2%}"
                  f" {s['top1']:>7.2%} {s['wrong_autos']:>6}")  # fmt: skip
        if args.by_variant:
            groups = defaultdict(set)
            for v in vendors:
                groups[_group(v)].add(v["id"])
            for name, ids in sorted(groups.items()):
                s = score(results["ours"], truth, ids)
                print(f"    {name:<16} n={len(ids):>4} prec={s['precision']:.3f} cov={s['coverage']:.3f}"
                      f" top1={s['top1']:.3f} wrong={s['wrong_autos']}")  # fmt: skip
        if args.show_errors and split in HELD_OUT:
            print(f"    ({split} is held out: its misses are not shown)")
        elif args.show_errors:
            by_id = {v["id"]: v for v in vendors}
            psa_names = {p["id"]: p["name"] for p in read(DATA / f"{split}_psa.csv")}
            shown = Counter()
            for vid, (decision, psa_id) in results["ours"].items():
                t = truth[vid]
                kind = ("wrong auto" if decision == "auto" and psa_id != t
                        else "missed" if t and psa_id != t
                        else "suggested" if t and decision != "auto" else None)  # fmt: skip
                if kind and shown[kind] < args.show_errors:
                    shown[kind] += 1
                    label = f" [{by_id[vid]['kind']}]" if "kind" in by_id[vid] else ""
                    print(f"    {kind}{label}: {by_id[vid]['name']!r} -> {decision}"
                          f" {psa_names.get(psa_id)!r} (true: {psa_names.get(t)!r})")  # fmt: skip


def _group(vendor: dict[str, str]) -> str:
    """The breakdown a vendor account belongs to: its kind (real) or origin/variant (generated)."""
    return vendor["kind"] if "kind" in vendor else f"{vendor['origin']}/{vendor['variant']}"


if __name__ == "__main__":
    main()
