"""URLconf for error-contract tests: the real URLs plus views that fail on purpose."""

from django.http import HttpResponse
from django.urls import path
from rest_framework.response import Response

from config.urls import urlpatterns as real_urlpatterns
from members.models import Member
from riskcontrol.http.partner_api import PartnerApi

SECRET_IN_EXCEPTION = "CARD-SECRET-1234-5678"


class CrashApi(PartnerApi):
    required_scope = None

    def get(self, request):
        raise RuntimeError(f"boom with {SECRET_IN_EXCEPTION}")

    def post(self, request):
        if request.data.get("write_then_fail"):
            Member.objects.create(external_id="HALF-DONE")
            raise RuntimeError("failing after a write")
        if request.data.get("fail"):
            raise RuntimeError("failing on purpose")
        return Response({"ok": True}, status=201)


def plain_django_crash(request):
    raise RuntimeError(f"plain view boom {SECRET_IN_EXCEPTION}")


def plain_django_ok(request):
    return HttpResponse("ok")


urlpatterns = [
    path("api/v1/_test/crash", CrashApi.as_view()),
    path("api/v1/_test/plain-crash", plain_django_crash),
    *real_urlpatterns,
]
