"""Management API routes of the channels app, under `/api/admin/`."""

from django.urls import path

from channels.api import ChannelDetailApi, ChannelListApi, ChannelTestApi

urlpatterns = [
    path("channels/", ChannelListApi.as_view(), name="channel-list"),
    path("channels/<int:channel_id>/", ChannelDetailApi.as_view(), name="channel-detail"),
    path("channels/<int:channel_id>/test/", ChannelTestApi.as_view(), name="channel-test"),
]
