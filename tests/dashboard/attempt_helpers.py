"""Usage records stored the way the recorder stores them, so that their attempts become rows."""

from typing import Any

from billing.models import UsageRecord
from billing.services import usage_records_save
from tests.factories import ApiKeyFactory, UsageRecordFactory


def record_with_attempts(*, attempts: list[dict[str, Any]], **fields: Any) -> UsageRecord:
    """A usage record with `attempts` (dicts as the record lists them), saved by
    `usage_records_save`: its attempts are stored as rows, as the gateway's are."""
    key = fields.pop("key", None) or ApiKeyFactory()
    record = UsageRecordFactory.build(key=key, account=key.account, attempts=attempts, **fields)
    usage_records_save(records=[record])
    return UsageRecord.objects.get(pk=record.pk)
