"""Writes to billing: accounts, the credit ledger, API keys, usage records and dead letters."""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from django.conf import settings
from django.db import DatabaseError, connections, router, transaction
from django.db.models import AutoField, F, Model
from django.utils import timezone

from billing.budget_mirror import budget_observed
from billing.budget_moves import BudgetMoves
from billing.budgets import AccountBudget, KeyBudget
from billing.keys import generate_key
from billing.models import (
    RECORD_MONEY_FIELDS,
    Account,
    ApiKey,
    LedgerEntry,
    LedgerKind,
    UsageAttempt,
    UsageDeadLetter,
    UsageRecord,
)
from billing.reservations import reservations_take
from channels.models import Channel
from core.log_filters import scrub
from core.money import MoneyValue
from core.write_lock import serialized_writes


def account_create(*, name: str) -> Account:
    """Create an account with a zero balance."""
    return Account.objects.create(name=name)


@transaction.atomic
def ledger_post(
    *,
    account: Account,
    kind: LedgerKind,
    amount: Decimal,
    description: str = "",
    usage_record: UsageRecord | None = None,
) -> LedgerEntry:
    """Append a signed ledger entry and move the account's balance by its amount, atomically."""
    entry = LedgerEntry.objects.create(
        account=account,
        kind=kind,
        amount=amount,
        description=description,
        usage_record=usage_record,
        request_id=usage_record.pk if usage_record is not None else "",
    )
    Account.objects.filter(pk=account.pk).update(
        balance=F("balance") + MoneyValue(amount), budget_version=F("budget_version") + 1
    )
    account.refresh_from_db(fields=["balance", "budget_version"])
    state = AccountBudget(account.pk, account.balance, account.budget_version)
    transaction.on_commit(lambda: budget_observed(accounts=[state], keys=[]))
    return entry


def account_credit(*, account: Account, amount: Decimal, description: str = "") -> LedgerEntry:
    """Add prepaid credit (a positive amount) to an account."""
    if amount <= 0:
        raise ValueError("a credit must be a positive amount")
    return ledger_post(
        account=account, kind=LedgerKind.CREDIT, amount=amount, description=description
    )


def api_key_issue(*, key: ApiKey) -> str:
    """Give an unsaved key fresh key material and save it; return the secret, shown only once."""
    material = generate_key()
    key.prefix, key.key_hash = material.prefix, material.key_hash
    if key.limit_reset and key.period_started_at is None:
        key.period_started_at = timezone.now()
    key.save()
    return material.secret


def api_key_create(
    *,
    account: Account,
    name: str,
    spend_limit: Decimal | None = None,
    limit_reset: str = "",
    rpm_limit: int | None = None,
    tpm_limit: int | None = None,
    allowed_models: Iterable[str] = (),
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """Create a key; return it and its secret, which is not stored and cannot be shown again."""
    key = ApiKey(
        account=account,
        name=name,
        spend_limit=spend_limit,
        limit_reset=limit_reset,
        rpm_limit=rpm_limit,
        tpm_limit=tpm_limit,
        allowed_models=list(allowed_models),
        expires_at=expires_at,
    )
    return key, api_key_issue(key=key)


def api_key_update(*, key: ApiKey, **fields: object) -> ApiKey:
    """Change a key's name, limits, allowlist or expiry."""
    for name, value in fields.items():
        setattr(key, name, value)
    update_fields = list(fields)
    if key.limit_reset and key.period_started_at is None:
        key.period_started_at = timezone.now()
        update_fields.append("period_started_at")
    key.save(update_fields=update_fields)
    return key


def api_key_revoke(*, key: ApiKey) -> ApiKey:
    """Revoke a key for good; revoking twice keeps the first time."""
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    return key


def _insert_many(model: type[Model], objects: Sequence[Model]) -> None:
    """INSERT unsaved instances with one prepared statement (`executemany`).

    The usage recorder's hot path: `bulk_create` compiles one placeholder per field per row,
    which cost several times the database's own work at a few hundred records a second.
    Auto-incremented primary keys are left to the database and not read back.
    """
    if not objects:
        return
    database = connections[router.db_for_write(model)]  # the wrapper itself, not the proxy
    fields = [field for field in model._meta.concrete_fields if not isinstance(field, AutoField)]
    quote = database.ops.quote_name
    sql = "INSERT INTO {} ({}) VALUES ({})".format(  # noqa: S608 (quoted names from the model)
        quote(model._meta.db_table),
        ", ".join(quote(field.column) for field in fields),
        ", ".join(["%s"] * len(fields)),
    )
    steps = [(field.pre_save, field.get_db_prep_save) for field in fields]
    rows = [
        tuple(prepare(value(obj, True), database) for value, prepare in steps) for obj in objects
    ]
    with database.cursor() as cursor:
        cursor.executemany(sql, rows)


def attempt_rows(record: UsageRecord) -> list[UsageAttempt]:
    """The record's attempts as rows (an attempt written before channel ids were kept has
    none: its channel is known by name only)."""
    return [
        UsageAttempt(
            request_id=record.pk,
            position=position,
            created_at=record.created_at,
            channel_id=attempt.get("channel_id"),
            channel_name=str(attempt.get("channel", ""))[:200],
            model=str(attempt.get("model") or record.model)[:200],
            outcome=str(attempt.get("outcome", ""))[:32],
            http_status=attempt.get("http_status"),
            latency_ms=max(0, int(attempt.get("latency_ms") or 0)),
            error=str(attempt.get("error", ""))[:300],
        )
        for position, attempt in enumerate(record.attempts or [])
        if isinstance(attempt, dict)
    ]


def _with_live_channels(rows: list[UsageAttempt]) -> list[UsageAttempt]:
    """The rows, each naming its channel only if the channel still exists (one deleted since
    the attempt keeps its name): a deleted channel never stops a record being stored."""
    named = {row.channel_id for row in rows if row.channel_id is not None}
    existing = set(Channel.objects.filter(pk__in=named).values_list("pk", flat=True))
    for row in rows:
        if row.channel_id not in existing:
            row.channel_id = None
    return rows


@dataclass(frozen=True, slots=True)
class UsageWritten:
    """What a stored batch changed: the new records' (request id, account id, key id), and the
    budgets they were charged to as of the writing transaction, for Redis to catch up with."""

    requests: list[tuple[str, int, int]]
    accounts: list[AccountBudget]
    keys: list[KeyBudget]


@transaction.atomic
def usage_records_save(
    *,
    records: Sequence[UsageRecord],
    reservations: Literal["database", "redis"] = "database",
    limit_resets: Mapping[int, str] | None = None,
) -> UsageWritten:
    """Store new usage records, charge their costs to the ledger and the keys' period spend,
    and give back their database reservations, all in one transaction.

    With `reservations="redis"` there are none in the database to give back; the budgets
    written are read back instead, for Redis to catch up with. `limit_resets` (key id → reset)
    saves reading the keys' reset periods. A record whose id is already stored is skipped, so a
    retried batch never charges twice.
    """
    stored = set(
        UsageRecord.objects.filter(pk__in=[record.pk for record in records]).values_list(
            "pk", flat=True
        )
    )
    new = [record for record in records if record.pk not in stored]
    _insert_many(UsageRecord, new)
    _insert_many(UsageAttempt, _with_live_channels([r for rec in new for r in attempt_rows(rec)]))
    _insert_many(
        LedgerEntry,
        [
            LedgerEntry(
                account_id=record.account_id,
                kind=LedgerKind.CHARGE,
                amount=-record.cost,
                usage_record=record,
                request_id=record.pk,
                description=record.served_model or record.model,
                created_at=record.created_at,
            )
            for record in new
            if record.cost > 0
        ],
    )
    moves = BudgetMoves()
    for record in new:
        moves.charge(record)
    if reservations == "database":
        for account_id, key_id, amount in reservations_take([r.pk for r in new]):
            moves.release(account_id, key_id, amount)
    accounts, keys = moves.apply(
        timezone.now(), limit_resets=limit_resets, report=reservations == "redis"
    )
    return UsageWritten(
        requests=[(record.pk, record.account_id, record.key_id) for record in new],
        accounts=accounts,
        keys=keys,
    )


DEAD_LETTER_ERROR_LENGTH = 4000
RetryOutcome = Literal["stored", "resolved_before", "refused"]


def _json_safe(value: Any) -> Any:
    """A record's value as JSON: decimals as strings, times in ISO 8601, and no NUL character
    (PostgreSQL refuses it in text and JSON, and it may be why the record was refused)."""
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(name): _json_safe(item) for name, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    return _json_safe(str(value))


def _error_text(error: BaseException | str) -> str:
    """An error as a dead letter keeps it: its type and message, secrets scrubbed, bounded."""
    text = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
    return scrub(_json_safe(text))[:DEAD_LETTER_ERROR_LENGTH]


def usage_dead_letter_save(
    *, fields: Mapping[str, Any], error: BaseException | str
) -> UsageDeadLetter:
    """Set aside a usage record the database refused (`fields` as for `UsageRecord(...)`),
    with why, so that operators see it and can retry it: a record is never silently lost."""
    return UsageDeadLetter.objects.create(
        request_id=str(fields.get("id", ""))[:40],
        record=_json_safe(fields),
        error=_error_text(error),
    )


def usage_record_from_json(fields: Mapping[str, Any]) -> UsageRecord:
    """The unsaved usage record that JSON fields (a dead letter's, a journal line's) hold:
    times in ISO 8601, money as decimal strings."""
    values = dict(fields)
    if isinstance(values.get("created_at"), str):
        values["created_at"] = datetime.fromisoformat(values["created_at"])
    for name in RECORD_MONEY_FIELDS:
        if values.get(name) is not None:
            values[name] = Decimal(values[name])
    return UsageRecord(**values)


def usage_dead_letter_retry(*, letter: UsageDeadLetter) -> RetryOutcome:
    """Store a dead letter's record with its ledger charge and mark the letter resolved, in
    one transaction: "stored". A record stored meanwhile (an earlier retry, a journal sweep)
    is not charged again; a record whose channel was deleted since is stored without it.
    "resolved_before" when the letter was already resolved; "refused" when the database
    refuses the record again (the letter keeps the new error)."""
    backend: Literal["database", "redis"] = "redis" if settings.REDIS_URL else "database"
    try:
        with serialized_writes(), transaction.atomic():
            locked = (
                UsageDeadLetter.objects.select_for_update()
                .filter(pk=letter.pk, resolved_at__isnull=True)
                .first()
            )
            if locked is None:
                return "resolved_before"
            record = usage_record_from_json(locked.record)
            channel_id = record.channel_id
            if channel_id is not None and not Channel.objects.filter(pk=channel_id).exists():
                record.channel_id = None
            written = usage_records_save(records=[record], reservations=backend)
            locked.resolved_at = timezone.now()
            locked.retries += 1
            locked.save(update_fields=["resolved_at", "retries"])
    except (DatabaseError, TypeError, ValueError) as error:
        UsageDeadLetter.objects.filter(pk=letter.pk).update(
            error=_error_text(error), retries=F("retries") + 1
        )
        return "refused"
    budget_observed(accounts=written.accounts, keys=written.keys, released=written.requests)
    letter.resolved_at, letter.retries = locked.resolved_at, locked.retries
    return "stored"
