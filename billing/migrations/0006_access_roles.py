"""Least privilege (#12.3): crediting an account is a permission of its own (`add_credit`), and a
"Support (read-only)" group holds the view permissions of every channels, billing and reports
model."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

SUPPORT_GROUP = "Support (read-only)"
SWITCHYARD_APPS = ("channels", "billing", "reports")


def create_support_group(apps, schema_editor):
    # Permissions are normally created after `migrate`; create them now, as of this migration.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    group, _ = Group.objects.get_or_create(name=SUPPORT_GROUP)
    group.permissions.add(
        *Permission.objects.filter(
            content_type__app_label__in=SWITCHYARD_APPS, codename__startswith="view_"
        )
    )


def delete_support_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=SUPPORT_GROUP).delete()


class Migration(migrations.Migration):

    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("billing", "0005_interrupted_status"),
        ("channels", "0005_channel_archive"),
        ("reports", "0003_exact_money"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="account",
            options={
                "ordering": ["name"],
                "permissions": [
                    ("add_credit", "Can add credit or an adjustment to an account")
                ],
            },
        ),
        migrations.RunPython(create_support_group, delete_support_group),
    ]
