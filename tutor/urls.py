from django.urls import path

from tutor import views

app_name = "tutor"

urlpatterns = [
    path("lessons/<int:lesson_id>/photos/", views.photo_upload, name="photo_upload"),
    path("photos/<int:photo_id>/", views.photo, name="photo"),
    path("lessons/<int:lesson_id>/voice/", views.voice_upload, name="voice_upload"),
    path(
        "classes/<int:classroom_id>/conversations/",
        views.classroom_transcripts,
        name="transcripts",
    ),
    path(
        "classes/<int:classroom_id>/conversations/<int:session_id>/",
        views.transcript,
        name="transcript",
    ),
    path(
        "classes/<int:classroom_id>/conversations/<int:session_id>/action/",
        views.transcript_action,
        name="transcript_action",
    ),
]
