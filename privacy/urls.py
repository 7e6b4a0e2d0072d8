from django.urls import path

from privacy import views

app_name = "privacy"

urlpatterns = [
    path("", views.my_data, name="my_data"),
    path("export/", views.my_data_export, name="my_data_export"),
    path("delete/", views.my_data_delete, name="my_data_delete"),
    path("delete/cancel/", views.my_data_delete_cancel, name="my_data_delete_cancel"),
    path("school/", views.school_students, name="school_students"),
    path("school/students/<int:student_id>/export/", views.student_export, name="student_export"),
    path("school/students/<int:student_id>/delete/", views.student_delete, name="student_delete"),
    path(
        "school/students/<int:student_id>/delete/cancel/",
        views.student_delete_cancel,
        name="student_delete_cancel",
    ),
    path("school/retention/", views.retention, name="retention"),
    path("school/audit/", views.audit_log, name="audit_log"),
]
