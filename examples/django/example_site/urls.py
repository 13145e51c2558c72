"""URLs of the example site."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.index),
    path("login", views.login),
    path("logout", views.logout),
]
