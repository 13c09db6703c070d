"""Management API routes of the billing app, under `/api/admin/`."""

from django.urls import path

from billing.api import (
    AccountCreditApi,
    AccountDetailApi,
    AccountListApi,
    KeyDetailApi,
    KeyListApi,
    ReconcileApi,
    UsageListApi,
)

urlpatterns = [
    path("accounts/", AccountListApi.as_view(), name="account-list"),
    path("accounts/<int:account_id>/", AccountDetailApi.as_view(), name="account-detail"),
    path("accounts/<int:account_id>/credits/", AccountCreditApi.as_view(), name="account-credit"),
    path("keys/", KeyListApi.as_view(), name="key-list"),
    path("keys/<int:key_id>/", KeyDetailApi.as_view(), name="key-detail"),
    path("usage/", UsageListApi.as_view(), name="usage-list"),
    path("reports/reconcile/", ReconcileApi.as_view(), name="reconcile"),
]
