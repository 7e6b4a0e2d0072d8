"""/healthz, /readyz and the old /health/: against the real database and Redis in
services mode, the embedded default otherwise, and a real (stand-in) inference worker."""

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


def test_healthz_answers_without_touching_the_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_legacy_health_still_checks_the_database(client):
    # The compose health check of `web` still calls it.
    response = client.get("/health/")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_ready_when_every_dependency_answers(client, settings, inference_up):
    settings.INFERENCE_URLS = [inference_up]

    response = client.get("/readyz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["failed"] == []
    expected = {"database", "inference"} | ({"redis"} if settings.REDIS_URL else set())
    assert set(body["checks"]) == expected
    assert body["checks"]["inference"] == {"ok": True, "workers_up": 1, "workers": 1}
    assert all(check["ok"] for check in body["checks"].values())


def test_readyz_names_the_inference_worker_when_none_answers(client, settings, inference_down):
    settings.INFERENCE_URLS = [inference_down]

    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["failed"] == ["inference"]
    assert body["checks"]["inference"] == {"ok": False, "workers_up": 0, "workers": 1}
    assert body["checks"]["database"] == {"ok": True}


def test_readyz_is_ready_while_one_of_two_inference_workers_is_down(
    client, settings, inference_up, inference_down
):
    # The client routes a session to the next worker on the ring: one up is enough.
    settings.INFERENCE_URLS = [inference_down, inference_up]

    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json()["checks"]["inference"] == {"ok": True, "workers_up": 1, "workers": 2}


def test_readyz_names_redis_when_it_does_not_answer(client, settings, inference_up):
    settings.INFERENCE_URLS = [inference_up]
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1

    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["redis"]
    assert body["checks"]["redis"] == {"ok": False, "error": "ConnectionError"}


def test_readyz_names_the_database_when_it_fails(client, settings, inference_up, monkeypatch):
    settings.INFERENCE_URLS = [inference_up]

    def broken_cursor(*args, **kwargs):
        raise connection.Database.OperationalError("server closed the connection")

    monkeypatch.setattr(connection, "cursor", broken_cursor)

    response = client.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["database"]
    assert body["checks"]["database"] == {"ok": False, "error": "OperationalError"}


@pytest.mark.services
def test_services_mode_readyz_checks_the_real_redis(client, settings, inference_up):
    if not settings.REDIS_URL:
        pytest.skip("needs REDIS_URL: the embedded default has no Redis")
    settings.INFERENCE_URLS = [inference_up]

    body = client.get("/readyz").json()

    assert body["checks"]["redis"] == {"ok": True}
    assert body["status"] == "ready"
