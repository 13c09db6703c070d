"""Paginated lists from an APIView: `{"count", "next", "previous", "results"}`, at most
`MAX_LIMIT` items a page."""

from typing import Any, TypeVar

from django.db.models import Model, QuerySet
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView

M = TypeVar("M", bound=Model)

# A larger `?limit=` is cut to this: no page loads a whole table or overflows SQL's LIMIT.
MAX_LIMIT = 1000


class BoundedLimitOffsetPagination(LimitOffsetPagination):
    """`?limit=&offset=` pagination with `limit` capped at `MAX_LIMIT` (an offset past the end
    gives an empty page without a query)."""

    max_limit = MAX_LIMIT


def paginated_response(
    *,
    request: Request,
    view: APIView,
    queryset: QuerySet[M],
    serializer_class: type[BaseSerializer[M]],
) -> Response:
    """Serialize one page of `queryset` (`?limit=&offset=`) with pagination links."""
    paginator = BoundedLimitOffsetPagination()
    page = paginator.paginate_queryset(queryset, request, view=view)
    page_items: Any = page
    data = serializer_class(page_items, many=True).data
    return paginator.get_paginated_response(data)
