"""The keys page: limits and spend bars, create (the secret shown once), revoke."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from billing.models import ApiKey
from billing.services import api_key_create, api_key_revoke
from config.permissions import model_perm, staff_permission_required
from dashboard.forms import KeyCreateForm
from dashboard.selectors import key_rows


@staff_permission_required(model_perm(ApiKey, "view"), post=(model_perm(ApiKey, "add"),))
@never_cache
def key_list(request: HttpRequest) -> HttpResponse:
    """Every key with its limits and spend; POST creates one and shows its secret once."""
    form = KeyCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        key, secret = api_key_create(
            account=data["account"],
            name=data["name"],
            spend_limit=data["spend_limit"],
            limit_reset=data["limit_reset"],
            rpm_limit=data["rpm_limit"],
            tpm_limit=data["tpm_limit"],
            allowed_models=data["allowed_models"],
            expires_at=data["expires_at"],
        )
        # Rendered, not redirected: the secret exists only in this one response.
        return render(request, "dashboard/key_created.html", {"key": key, "secret": secret})
    return render(request, "dashboard/keys.html", {"rows": key_rows(), "form": form})


@staff_permission_required(model_perm(ApiKey, "change"))
@require_POST
def key_revoke(request: HttpRequest, key_id: int) -> HttpResponseRedirect:
    """Revoke a key for good."""
    key = api_key_revoke(key=get_object_or_404(ApiKey, pk=key_id))
    messages.success(request, f"Key {key.name} ({key.prefix}…) revoked.")
    return redirect("dashboard:keys")
