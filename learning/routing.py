from django.urls import path

from learning import consumers

websocket_urlpatterns = [
    path("ws/learning/", consumers.LearnerConsumer.as_asgi()),
]
