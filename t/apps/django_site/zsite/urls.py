"""URLs of the test project, relative to the script prefix: mounted at the
location /site/, the admin is /site/admin/ and the form /site/form/."""

from django.contrib import admin
from django.urls import path

from zsite import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("form/", views.form_view, name="form"),
    path("upload/", views.upload_view, name="upload"),
    path("whoami/", views.whoami_view, name="whoami"),
]
