"""The public site: no login needed. These addresses are printed and linked from outside;
keep them stable."""

from django.urls import path

from . import views_public

urlpatterns = [
    path("", views_public.home, name="home"),
    path("treatments/", views_public.treatment_list, name="treatments"),
    path("treatments/<slug:slug>/", views_public.treatment_detail, name="public_treatment"),
    path("aftercare-advice/", views_public.aftercare_advice, name="aftercare_advice"),
    path("faqs/", views_public.faqs, name="faqs"),
    path("contact/", views_public.contact, name="contact"),
    path("pricing/", views_public.pricing, name="pricing"),
    path("insurance/", views_public.insurance, name="insurance"),
]
