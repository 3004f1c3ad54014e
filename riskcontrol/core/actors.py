"""Who did something: an operator, a partner system, a clerk or the system itself.

Every service that changes value takes an `Actor`, and every audit row records it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .request_context import current_request_id


@dataclass(frozen=True)
class Actor:
    kind: str  # "user", "partner" or "system"
    label: str
    user_id: int | None = None
    partner_client_id: int | None = None
    ip: str = ""
    request_id: str = field(default_factory=current_request_id)

    @classmethod
    def system(cls, label: str = "system") -> Actor:
        return cls(kind="system", label=label)

    @classmethod
    def for_user(cls, user: Any, request: Any = None) -> Actor:
        return cls(
            kind="user",
            label=user.get_username(),
            user_id=user.pk,
            ip=_client_ip(request),
        )

    @classmethod
    def for_partner(cls, client: Any, request: Any = None) -> Actor:
        return cls(
            kind="partner",
            label=client.name,
            partner_client_id=client.pk,
            ip=_client_ip(request),
        )

    def context(self) -> dict[str, str]:
        """Request context for audit rows."""
        return {
            key: value
            for key, value in (("request_id", self.request_id), ("ip", self.ip))
            if value and value != "-"
        }


def _client_ip(request: Any) -> str:
    if request is None:
        return ""
    return request.META.get("REMOTE_ADDR", "") or ""
