"""Differential safety net for performance work: the written allocations and exceptions of
generated days, compared byte for byte against outputs saved from a reference commit.

    python benchmarks/golden.py --save DIR     # on the reference commit
    python benchmarks/golden.py --check DIR    # after a change: exit 1 on any difference

The HiGHS fallback is turned off (``subset_milp_calls = 0``), so the saved outputs stay valid
when the fallback's node limit is tuned. Days: seeds 1-4 at 3,000
payments and seed 7 at 20,000 (``--days`` to choose). Reports; the only thing it asserts is
byte equality.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from pathlib import Path


def DETERMINISTIC(policy_cls: type) -> object:  # noqa: N802
    """The default policy with the HiGHS fallback off (tuning its node limit would otherwise
    change the saved outputs). Everything else is the default."""
    return policy_cls(subset_milp_calls=0)


DAYS = [(1, 3000), (2, 3000), (3, 3000), (4, 3000), (7, 20000)]


def run_day(seed: int, payments: int, out: Path, **match_kw: object) -> float:
    from cashmatch.engine import interchange as io
    from cashmatch.engine.matcher import match
    from cashmatch.engine.policy import Policy
    from cashmatch.fixtures.generator import generate_day

    day = generate_day(payments=payments, seed=seed)
    t0 = time.perf_counter()
    res = match(
        invoices=day.invoices,
        payments=day.payments,
        remittances=day.remittances,
        customers=day.customers,
        policy=DETERMINISTIC(Policy),
        **match_kw,
    )
    elapsed = time.perf_counter() - t0
    out.mkdir(parents=True, exist_ok=True)
    io.write_allocations(res.allocations, out / "allocations.csv")
    io.write_exceptions(res.exceptions, out / "exceptions.csv")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--save", type=Path)
    g.add_argument("--check", type=Path)
    p.add_argument("--days", default=None, help="seed:payments,... (default: the standard five)")
    args = p.parse_args(argv)
    days = (
        DAYS
        if not args.days
        else [tuple(int(x) for x in d.split(":")) for d in args.days.split(",")]
    )
    bad = 0
    for seed, n in days:
        name = f"seed{seed}-{n}"
        target = args.save / name if args.save else Path(tempfile.mkdtemp()) / name
        elapsed = run_day(seed, n, target)
        if args.save:
            print(f"{name}: saved in {elapsed:.2f} s")
            continue
        for f in ("allocations.csv", "exceptions.csv"):
            a, b = (args.check / name / f).read_bytes(), (target / f).read_bytes()
            same = a == b
            bad += not same
            print(
                f"{name}/{f}: {'identical' if same else 'DIFFERENT'} "
                f"({hashlib.sha1(b).hexdigest()[:10]}, match {elapsed:.2f} s)"
            )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
