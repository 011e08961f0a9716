"""Agreement statistics: exactness against sklearn/krippendorff and bootstrap speed against a naive loop.

    python bench/agreement_bench.py [--units 20000] [--codes 30] [--boot 1000]

Baseline: the textbook bootstrap (resample units, call ``sklearn.metrics.cohen_kappa_score`` and
``krippendorff.alpha`` on each resample), timed on one code and scaled to all codes. Ours: per-pattern
multinomial weights (:mod:`thematic.agreement`). Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from thematic import agreement as ag  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--units", type=int, default=20000)
    ap.add_argument("--codes", type=int, default=30)
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--naive-reps", type=int, default=100, help="resamples actually timed for the baseline")
    args = ap.parse_args()
    import krippendorff
    from sklearn.metrics import cohen_kappa_score

    rng = np.random.default_rng(0)
    blocks = []
    for _ in range(args.codes):
        a = (rng.random(args.units) < rng.uniform(0.02, 0.2)).astype(float)
        b = np.where(rng.random(args.units) < 0.9, a, 1 - a)
        blocks.append(np.vstack([a, b]))

    # Exactness.
    worst = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for m in blocks:
            worst = max(worst, abs(ag.cohen_kappa(m[0], m[1]) - cohen_kappa_score(m[0], m[1])))
            worst = max(worst, abs(ag.krippendorff_alpha(m) - krippendorff.alpha(reliability_data=m,
                                                                                 level_of_measurement="nominal")))

    # Ours: every code with intervals, plus the pooled overall.
    t = time.perf_counter()
    for m in blocks:
        ag.estimate(m, n_boot=args.boot)
    ag.pooled_estimate(blocks, n_boot=args.boot)
    ours = time.perf_counter() - t

    # Naive: resample units and call the reference implementations.
    m = blocks[0]
    t = time.perf_counter()
    for _ in range(args.naive_reps):
        idx = rng.integers(0, args.units, args.units)
        cohen_kappa_score(m[0, idx], m[1, idx])
        krippendorff.alpha(reliability_data=m[:, idx], level_of_measurement="nominal")
    per_rep = (time.perf_counter() - t) / args.naive_reps
    naive = per_rep * args.boot * (args.codes + 1)

    print(f"{args.codes} codes x {args.units:,} units, {args.boot} bootstrap resamples, kappa + alpha + % agreement")
    print(f"{'':<28}{'naive loop (sklearn+krippendorff)':>36}{'thematic.agreement':>22}")
    print(f"{'time':<28}{naive:>35.1f}s{ours:>21.2f}s   ({naive / ours:,.0f}x faster)")
    print(f"max |difference| of point estimates vs references: {worst:.1e}")
    print(json.dumps({"units": args.units, "codes": args.codes, "boot": args.boot, "naive_s": round(naive, 2),
                      "ours_s": round(ours, 3), "speedup": round(naive / ours, 1), "max_abs_diff": worst}))


if __name__ == "__main__":
    main()
