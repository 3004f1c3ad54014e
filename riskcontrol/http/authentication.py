"""`Authorization: Api-Key <key>`: the partner API's only authenticator.

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
        keyword, _, key = header.partition(" ")
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
            "description": "`Api-Key <key>`, as issued to the partner client by an operator.",
        }
