"""App config of the billing app."""

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class BillingConfig(AppConfig):
    """Accounts, API keys, usage records and the credit ledger."""

    name = "billing"
    verbose_name = "Billing"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        """Keep the support group after every `migrate` and `flush`; broadcast key changes
        (billing.signals)."""
        from billing import signals  # noqa: F401 (connects them)
        from billing.roles import ensure_support_group

        post_migrate.connect(ensure_support_group, dispatch_uid="billing.ensure_support_group")
