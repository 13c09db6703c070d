"""The "Support (read-only)" group: the view permissions of every Switchyard model, kept after
each `migrate` and `flush` (a flushed database gets it back; a new model's view permission
joins it)."""

from typing import Any

from django.apps import apps as global_apps

SUPPORT_GROUP = "Support (read-only)"
# Adding credit moves money: a permission of its own, not implied by changing an account.
ADD_CREDIT = "billing.add_credit"
SWITCHYARD_APPS = ("channels", "billing", "reports")


def ensure_support_group(*, apps: Any = global_apps, using: str = "default", **_: Any) -> None:
    """A `post_migrate` receiver: the support group exists and holds every existing view
    permission of the Switchyard apps (idempotent; it runs once per migrated app)."""
    try:
        Group = apps.get_model("auth", "Group")
        Permission = apps.get_model("auth", "Permission")
    except LookupError:  # auth is not migrated yet
        return
    group, _ = Group.objects.using(using).get_or_create(name=SUPPORT_GROUP)
    group.permissions.add(
        *Permission.objects.using(using).filter(
            content_type__app_label__in=SWITCHYARD_APPS, codename__startswith="view_"
        )
    )
