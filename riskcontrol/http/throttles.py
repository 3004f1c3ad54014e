from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from ..rules.counters import counters_add, counters_read
from .authentication import PartnerPrincipal


class PartnerClientRateThrottle(SimpleRateThrottle):
    """Requests per partner client, counted where every web process sees the same count:
    a fixed-window counter in Redis (`counters`, which falls back to the database when
    Redis is down or hung, so an outage neither fails requests nor lifts the limit).
    Without Redis (the embedded default) DRF's own count in the local cache."""

    scope = "partner"
    _retry_after: int | None = None

    def get_rate(self) -> str | None:
        return settings.PARTNER_API_RATE or None

    def get_cache_key(self, request, view) -> str | None:
        if not isinstance(request.user, PartnerPrincipal):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.client.pk}

    def allow_request(self, request, view) -> bool:
        if not settings.RISK_REDIS_URL:
            return super().allow_request(request, view)
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        (count,) = counters_add([self.key], window=self.duration)
        if count <= self.num_requests:
            return True
        live = counters_read([self.key], window=self.duration)
        self._retry_after = live[0][2] if live else self.duration
        return False

    def wait(self) -> float | None:
        if self._retry_after is not None:
            return self._retry_after
        return super().wait()
