from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from .authentication import PartnerPrincipal


class PartnerClientRateThrottle(SimpleRateThrottle):
    """Requests per partner client, counted in the shared cache (Redis in production), so
    every web process sees the same count."""

    scope = "partner"

    def get_rate(self) -> str | None:
        return settings.PARTNER_API_RATE or None

    def get_cache_key(self, request, view) -> str | None:
        if not isinstance(request.user, PartnerPrincipal):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.client.pk}
