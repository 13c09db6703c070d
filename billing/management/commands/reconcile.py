"""`manage.py reconcile`: check that balances, ledger and usage costs agree; exit 1 if not."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from billing.reconcile import reconcile


class Command(BaseCommand):
    help = (
        "Check balance = Σ ledger per account and Σ charges = Σ usage costs, that every "
        "journaled request has its record, no hold is orphaned and nothing is overdrawn."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        """Print the totals and every disagreement; fail when there is one."""
        result = reconcile()
        summary = result.as_dict()
        self.stdout.write(
            f"{summary['accounts']} accounts, ledger total {summary['ledger_total']} USD, "
            f"charges {summary['charges_total']} USD, usage costs {summary['usage_cost_total']} USD"
        )
        for problem in result.problems:
            self.stderr.write(problem)
        if not result.ok:
            raise CommandError(f"the books do not balance: {len(result.problems)} problem(s)")
        self.stdout.write(self.style.SUCCESS("OK: every balance and charge reconciles."))
