"""Dashboard routes, under `/dashboard/`."""

from django.urls import path

from dashboard.views import billing, channels, keys, overview, usage

app_name = "dashboard"
urlpatterns = [
    path("", overview.overview, name="overview"),
    path("channels/", channels.channel_list, name="channels"),
    path("channels/<int:channel_id>/", channels.channel_detail, name="channel"),
    path("channels/<int:channel_id>/test/", channels.channel_test, name="channel-test"),
    path("channels/<int:channel_id>/toggle/", channels.channel_toggle, name="channel-toggle"),
    path("usage/", usage.usage_explorer, name="usage"),
    path("usage/<str:record_id>/", usage.usage_detail, name="usage-detail"),
    path("billing/", billing.account_list, name="accounts"),
    path("billing/<int:account_id>/", billing.account_detail, name="account"),
    path("billing/<int:account_id>/statement.csv", billing.statement_csv, name="statement-csv"),
    path("keys/", keys.key_list, name="keys"),
    path("keys/<int:key_id>/revoke/", keys.key_revoke, name="key-revoke"),
]
