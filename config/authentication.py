"""Management API authentication: a staff user's DRF token as `Token …` or `Bearer …`."""

from rest_framework.authentication import TokenAuthentication
from rest_framework.request import Request


class StaffTokenAuthentication(TokenAuthentication):
    """DRF token authentication that also accepts the `Bearer` keyword."""

    keywords = ("Token", "Bearer")

    def authenticate(self, request: Request):  # type: ignore[no-untyped-def]
        """Authenticate with whichever accepted keyword the Authorization header uses."""
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme = header.split(" ", 1)[0]
        for keyword in self.keywords:
            if scheme.lower() == keyword.lower():
                self.keyword = keyword
                return super().authenticate(request)
        return None
