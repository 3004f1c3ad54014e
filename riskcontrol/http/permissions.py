from rest_framework.permissions import BasePermission

from .authentication import PartnerPrincipal


class HasScope(BasePermission):
    """The calling client holds the view's `required_scope` (and, where a view names
    them, every scope in `extra_scopes`). No client: DRF answers 401."""

    def has_permission(self, request, view) -> bool:
        principal = request.user
        if not isinstance(principal, PartnerPrincipal):
            return False
        required = view.get_required_scopes(request) if hasattr(view, "get_required_scopes") else ()
        return all(scope in principal.scopes for scope in required)
