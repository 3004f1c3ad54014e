from django.contrib.auth import views as auth_views
from django.urls import path

from . import clerk

urlpatterns = [
    path("", clerk.home, name="store-home"),
    path("login/", clerk.ClerkLoginView.as_view(), name="store-login"),
    path("logout/", auth_views.LogoutView.as_view(next_page="/store/login/"), name="store-logout"),
    path("pick/", clerk.pick_store, name="store-pick"),
    path("check/", clerk.check, name="store-check"),
    path("redeem/", clerk.redeem, name="store-redeem"),
    path("redemptions/<int:redemption_id>/reverse/", clerk.reverse, name="store-reverse"),
]
