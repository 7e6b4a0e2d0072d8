from django.urls import path

from learning import views

app_name = "learning"

urlpatterns = [
    path("progress/", views.progress, name="progress"),
    path("courses/<int:course_id>/", views.course_home, name="course"),
    path("courses/<int:course_id>/continue/", views.course_continue, name="course_continue"),
    path("lessons/<int:lesson_id>/", views.lesson_page, name="lesson"),
    path("lessons/<int:lesson_id>/next/", views.lesson_next, name="lesson_next"),
    path("exercises/<int:presentation_id>/answer/", views.presentation_answer, name="answer"),
    path("exercises/<int:presentation_id>/hint/", views.presentation_hint, name="hint"),
    path("exercises/<int:presentation_id>/solution/", views.presentation_solution, name="solution"),
    path("exercises/<int:presentation_id>/status/", views.presentation_status, name="status"),
    path(
        "classes/<int:classroom_id>/courses/",
        views.classroom_course_assign,
        name="classroom_course_assign",
    ),
    path("classes/<int:classroom_id>/mastery/", views.classroom_mastery, name="classroom_mastery"),
    path(
        "classes/<int:classroom_id>/mastery.csv",
        views.classroom_mastery_csv,
        name="classroom_mastery_csv",
    ),
]
