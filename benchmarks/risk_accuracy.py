"""Print the at-risk accuracy table: recall of planted deteriorating customers and the flag
budget (flagged / planted) per seed.  ``python benchmarks/risk_accuracy.py [n_customers]``"""

from __future__ import annotations

import sys

from cashmatch.fixtures.history import risk_accuracy

if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 400
    print(
        f"{'seed':>5} {'customers':>9} {'recall':>7} {'flagged/planted':>16}"
        f" {'chronic flagged':>16}"
    )
    for seed in (1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 13, 14, 15, 16):
        recall, ratio, chronic = risk_accuracy(seed=seed, n_customers=n)
        print(f"{seed:>5} {n:>9} {recall:>7.3f} {ratio:>16.2f} {chronic:>16}")
