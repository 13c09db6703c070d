"""`python -m bench.reports [--records N] [--days D] [--repeat R]`: report and page timings.

Run it against a throwaway PostgreSQL (`make bench-reports` starts one): it migrates, generates
N usage records over D days, rolls them up, leaves a few thousand late records queued, then
times every report query and dashboard page and checks each against the 0.5 s target.
"""

import argparse
import json
import os
import secrets
import sys
import time
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_JSON = ROOT / "bench" / "results" / "reports.json"


def _configure() -> None:
    """Django on the benchmark's database, with throwaway secrets."""
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        sys.exit("bench.reports needs DATABASE_URL=postgres://… (make bench-reports starts one)")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")
    os.environ.setdefault("DJANGO_SECRET_KEY", secrets.token_urlsafe(50))
    os.environ.setdefault("SWITCHYARD_ENCRYPTION_KEYS", Fernet.generate_key().decode())
    import django

    django.setup()
    from django.test.utils import setup_test_environment

    setup_test_environment()  # the test client's host name is allowed


def main(argv: list[str] | None = None) -> int:
    """Generate, roll up, time, report; exit 1 when a figure misses the target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--late", type=int, default=2_000, help="records left queued")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per request")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON)
    args = parser.parse_args(argv)
    _configure()

    from django.core.management import call_command

    from bench.reports.timing import run

    call_command("migrate", verbosity=0)
    figures = run(records=args.records, days=args.days, late=args.late, repeat=args.repeat)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"\nwrote {args.json.relative_to(ROOT) if args.json.is_relative_to(ROOT) else args.json}")
    return 0 if figures["all_met"] else 1


if __name__ == "__main__":
    started = time.perf_counter()
    status = main()
    print(f"done in {time.perf_counter() - started:.0f} s")
    sys.exit(status)
