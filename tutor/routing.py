from django.urls import path

from tutor import consumers

websocket_urlpatterns = [
    path("ws/tutor/lessons/<int:lesson_id>/", consumers.TutorConsumer.as_asgi()),
]
