from django.urls import path

from courses import variant_views, views

app_name = "courses"

urlpatterns = [
    path("", views.index, name="index"),
    path("new/", views.course_create, name="course_create"),
    path("import/", views.course_import, name="course_import"),
    path("<int:course_id>/export/", views.course_export, name="course_export"),
    path("<int:course_id>/edit/", views.course_edit, name="course_edit"),
    path("<int:course_id>/publish/", views.course_publish, name="course_publish"),
    path(
        "<int:course_id>/tutor/",
        views.course_tutor_instructions,
        name="course_tutor_instructions",
    ),
    path("<int:course_id>/preview/", views.preview, name="preview"),
    path("<int:course_id>/units/new/", views.unit_create, name="unit_create"),
    path("<int:course_id>/skills/new/", views.skill_create, name="skill_create"),
    path("<int:course_id>/assets/<str:name>", views.asset, name="asset"),
    path("units/<int:unit_id>/edit/", views.unit_edit, name="unit_edit"),
    path("units/<int:unit_id>/lessons/new/", views.lesson_create, name="lesson_create"),
    path("lessons/<int:lesson_id>/edit/", views.lesson_edit, name="lesson_edit"),
    path("lessons/<int:lesson_id>/publish/", views.lesson_publish, name="lesson_publish"),
    path("lessons/<int:lesson_id>/exercises/new/", views.exercise_create, name="exercise_create"),
    path("exercises/<int:exercise_id>/edit/", views.exercise_edit, name="exercise_edit"),
    path("skills/<int:skill_id>/edit/", views.skill_edit, name="skill_edit"),
    path(
        "exercises/<int:exercise_id>/variants/",
        variant_views.exercise_variants,
        name="exercise_variants",
    ),
    path("variants/batches/<int:batch_id>/", variant_views.variant_batch, name="variant_batch"),
    path(
        "variants/batches/<int:batch_id>/status/",
        variant_views.variant_batch_status,
        name="variant_batch_status",
    ),
    path("variants/<int:variant_id>/decide/", variant_views.variant_decide, name="variant_decide"),
]
