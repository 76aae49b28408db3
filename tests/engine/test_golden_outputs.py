"""The matcher's written outputs on a generated day, byte for byte against a committed copy.

A safety net for performance work: a faster path must decide exactly what the old one did.
The HiGHS fallback is off here (so tuning its node limit does not move the copy).
If a decision changes on purpose (or the generator changes), regenerate the copy with
``python -c "import sys; sys.path.insert(0, 'benchmarks'); from golden import run_day;
from pathlib import Path; run_day(11, 1000, Path('tests/engine/golden/seed11-1000'))"``
and say why in the commit.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden" / "seed11-1000"


def test_outputs_are_byte_identical_to_the_committed_copy(tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        from golden import run_day
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    run_day(11, 1000, tmp_path)
    for name in ("allocations.csv", "exceptions.csv"):
        got = (tmp_path / name).read_bytes()
        want = (GOLDEN / name).read_bytes()
        assert got == want, f"{name} differs from the committed golden copy"
