"""Management API routes of the channels app, under `/api/admin/`."""

from django.urls import path

from channels.api import ChannelDetailApi, ChannelListApi

urlpatterns = [
    path("channels/", ChannelListApi.as_view(), name="channel-list"),
    path("channels/<int:channel_id>/", ChannelDetailApi.as_view(), name="channel-detail"),
]
