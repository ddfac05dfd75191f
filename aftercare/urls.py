from django.urls import path

from . import views

app_name = "aftercare"

urlpatterns = [
    path("check-in/<str:token>/", views.check_in_link, name="check_in_link"),
    path("unsubscribe/<str:token>/", views.unsubscribe, name="unsubscribe"),
]
