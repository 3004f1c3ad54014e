"""`Authorization: Api-Key <key>`: the partner API's only authenticator. The bare key
(`Authorization: <key>`, what the docs page's Authorize dialog sends when only the key is
pasted) is accepted too; any other scheme (`Bearer …`, `Basic …`) is refused.

djangorestframework-api-key ships a *permission* class, which would answer 403 for a
missing key; wrapping its key store in an authentication class gives the 401 with
`WWW-Authenticate: Api-Key` that API.md promises.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from ..models import PartnerClient, PartnerClientKey

KEYWORD = "Api-Key"


@dataclass
class PartnerPrincipal:
    """`request.user` for a partner call: the client, never a Django user."""

    client: PartnerClient
    scopes: frozenset[str] = field(default_factory=frozenset)
    is_authenticated: bool = True
    is_anonymous: bool = False

    @property
    def pk(self) -> int:
        return self.client.pk

    def __str__(self) -> str:
        return f"partner:{self.client.name}"


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        keyword, space, key = header.strip().partition(" ")
        if not space:  # the bare key: keys hold no spaces, scheme names are not keys
            keyword, key = KEYWORD, keyword
        key = key.strip()
        # Issued keys are printable ASCII; anything else (NUL included) is no key of ours.
        if keyword != KEYWORD or not key or not (key.isascii() and key.isprintable()):
            raise exceptions.AuthenticationFailed()
        try:
            api_key = PartnerClientKey.objects.get_from_key(key)
        except PartnerClientKey.DoesNotExist:
            raise exceptions.AuthenticationFailed() from None
        if api_key.has_expired or not api_key.client.active:
            raise exceptions.AuthenticationFailed()
        client = api_key.client
        return PartnerPrincipal(client=client, scopes=frozenset(client.scopes)), api_key

    def authenticate_header(self, request: Request) -> str:
        return KEYWORD


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "riskcontrol.http.authentication.ApiKeyAuthentication"
    name = "ApiKeyAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": (
                "Your API key, sent in the `Authorization` header as `Api-Key <key>`, "
                "for example `Api-Key Xb3kQ9aZ.Hh2…`. In this page's Authorize dialog "
                "you may paste either that whole value or just the key. Keys are issued "
                "to your partner client by a Quanyi operator and shown once; each key "
                "carries its client's scopes (each operation names the scope it needs). "
                "A missing, unknown, expired or revoked key answers 401 `unauthenticated`."
            ),
        }
