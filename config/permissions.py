"""Least privilege for the management API and the dashboard: Django model permissions, as the
admin enforces them; reading needs `view_<model>` (or `change_<model>`), writing needs `add_`,
`change_` or `delete_`, custom actions name their own permission; superusers pass everything."""

from collections.abc import Callable, Iterable, Mapping
from functools import wraps
from typing import TYPE_CHECKING, Any

from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, PermissionsMixin
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

if TYPE_CHECKING:
    # rest_framework.views imports this module through the settings: no cycle at run time.
    from rest_framework.views import APIView

User = AbstractBaseUser | AnonymousUser
DashboardView = Callable[..., HttpResponse]

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# A method without an action (TRACE, a typo) needs a permission nobody holds, superusers aside.
UNMAPPED_METHOD = "config.unmapped_method"
METHOD_ACTIONS = {
    "GET": "view",
    "POST": "add",
    "PUT": "change",
    "PATCH": "change",
    "DELETE": "delete",
}


def model_perm(model: type[Model], action: str) -> str:
    """The permission name `app_label.<action>_<model_name>` of a model."""
    return f"{model._meta.app_label}.{action}_{model._meta.model_name}"


def user_can(user: User, perm: str) -> bool:
    """Whether an active staff user holds `perm`; a `view_` permission is also met by the
    matching `change_` one, as in the admin."""
    staff = getattr(user, "is_staff", False)
    if not (isinstance(user, PermissionsMixin) and user.is_active and staff):
        return False
    if user.has_perm(perm):
        return True
    app_label, _, codename = perm.partition(".")
    action, _, model_name = codename.partition("_")
    return action == "view" and user.has_perm(f"{app_label}.change_{model_name}")


def user_can_all(user: User, perms: Iterable[str]) -> bool:
    """Whether an active staff user holds every permission in `perms`."""
    return all(user_can(user, perm) for perm in perms)


def view_permissions(view: "APIView", method: str) -> tuple[str, ...]:
    """The permissions an API view needs for `method` (HEAD and OPTIONS as GET): its
    `method_permissions` entry, else the method's action on its `permission_model`; a method
    a view without a model does not answer needs a permission nobody holds."""
    method = "GET" if method in READ_METHODS else method
    overrides: Mapping[str, tuple[str, ...]] = getattr(view, "method_permissions", {})
    if method in overrides:
        return overrides[method]
    model: type[Model] | None = getattr(view, "permission_model", None)
    if model is None and not hasattr(view, method.lower()):
        return (UNMAPPED_METHOD,)  # a method the view does not answer: 401/403, superusers 405
    if model is None:
        raise ImproperlyConfigured(
            f"{type(view).__name__} names neither a permission_model nor method_permissions "
            f"for {method}."
        )
    action = METHOD_ACTIONS.get(method)
    return (model_perm(model, action),) if action else (UNMAPPED_METHOD,)


class ModelPermissions(BasePermission):
    """Staff holding the model permissions the request's method needs (see `view_permissions`)."""

    def has_permission(self, request: Request, view: "APIView") -> bool:
        """Whether the user may call this view with this method."""
        return user_can_all(request.user, view_permissions(view, request.method or "GET"))


def staff_permission_required(
    *perms: str, post: tuple[str, ...] = ()
) -> Callable[[DashboardView], DashboardView]:
    """A dashboard view decorator: anonymous and non-staff go to the admin login as before;
    staff without every permission in `perms` (and, for a POST, every one in `post`) get 403."""

    def decorator(view: DashboardView) -> DashboardView:
        @wraps(view)
        def checked(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            needed = perms + post if request.method == "POST" else perms
            if not user_can_all(request.user, needed):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        guarded: DashboardView = staff_member_required(checked)
        return guarded

    return decorator
