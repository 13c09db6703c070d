"""App config of the billing app."""

from django.apps import AppConfig


class BillingConfig(AppConfig):
    """Accounts, API keys, usage records and the credit ledger."""

    name = "billing"
    verbose_name = "Billing"
    default_auto_field = "django.db.models.BigAutoField"
