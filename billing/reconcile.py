"""Proof that the books balance: every account's balance equals its ledger's sum, every charge
equals its usage record's cost, and every priced record was charged — and that they are
complete and solvent (`billing.audit`)."""

from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Exists, F, OuterRef, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from billing.audit import audit_problems
from billing.models import Account, LedgerEntry, LedgerKind, UsageRecord
from core.money import format_money

ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """What reconcile found; `ok` when nothing disagrees."""

    accounts: int
    ledger_total: Decimal
    charges_total: Decimal
    usage_cost_total: Decimal
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, object]:
        """JSON-ready, money as decimal strings."""
        return {
            "ok": self.ok,
            "accounts": self.accounts,
            "ledger_total": format_money(self.ledger_total),
            "charges_total": format_money(self.charges_total),
            "usage_cost_total": format_money(self.usage_cost_total),
            "problems": self.problems,
        }


def reconcile() -> Reconciliation:
    """Check balance = Σ ledger per account, and Σ charges = Σ costs of the stored usage records
    (a pruned record's charge stays in the ledger and is left out of the second sum); then that
    nothing is unbilled, no hold orphaned and no account or key overdrawn."""
    problems = []
    ledger_sum = Coalesce(
        Sum("ledger_entries__amount"), ZERO, output_field=Account._meta.get_field("balance")
    )
    accounts = Account.objects.annotate(ledger_sum=ledger_sum).order_by("pk")
    for account in accounts.exclude(balance=F("ledger_sum")):
        problems.append(
            f"account {account.pk} ({account.name}): balance {format_money(account.balance)} "
            f"but its ledger sums to {format_money(account.ledger_sum)}"
        )
    charges = LedgerEntry.objects.filter(kind=LedgerKind.CHARGE, usage_record__isnull=False)
    mismatched = charges.exclude(amount=-F("usage_record__cost")).order_by("pk")
    rows = mismatched.values_list("pk", "amount", "request_id", "usage_record__cost")
    for entry_id, amount, request_id, cost in rows[:100]:
        problems.append(
            f"ledger entry {entry_id} charges {format_money(-amount)} for request "
            f"{request_id}, whose usage record costs {format_money(cost)}"
        )
    charged = LedgerEntry.objects.filter(usage_record=OuterRef("pk"))
    uncharged = UsageRecord.objects.filter(cost__gt=0).exclude(Exists(charged))
    for record_id in uncharged.values_list("pk", flat=True)[:100]:
        problems.append(f"usage record {record_id} has a cost but no ledger charge")
    charges_total = -(charges.aggregate(total=Sum("amount"))["total"] or ZERO)
    usage_total = UsageRecord.objects.aggregate(total=Sum("cost"))["total"] or ZERO
    if charges_total != usage_total:
        problems.append(
            f"charges total {format_money(charges_total)} but usage records cost "
            f"{format_money(usage_total)}"
        )
    problems += audit_problems(now=timezone.now())
    return Reconciliation(
        accounts=accounts.count(),
        ledger_total=LedgerEntry.objects.aggregate(total=Sum("amount"))["total"] or ZERO,
        charges_total=charges_total,
        usage_cost_total=usage_total,
        problems=problems,
    )
