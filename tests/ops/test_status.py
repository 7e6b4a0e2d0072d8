"""The school admin's status page: who may see it, and what it shows on the embedded
default and against the real Redis and a real Celery worker (services mode)."""

import uuid

import pytest
import redis
from django.urls import reverse

from accounts.models import Role
from ops import selectors
from tests.factories import PASSWORD, StudentFactory, TeacherFactory, UserFactory

pytestmark = pytest.mark.django_db

URL = "/ops/status/"


@pytest.fixture
def school_admin():
    return TeacherFactory(role=Role.SCHOOL_ADMIN)


def _login(client, user):
    assert client.login(username=user.email, password=PASSWORD)


def test_status_page_url():
    assert reverse("ops:status") == URL


def test_anonymous_visitors_are_sent_to_log_in(client):
    response = client.get(URL)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


@pytest.mark.parametrize("factory", [TeacherFactory, StudentFactory])
def test_teachers_and_students_do_not_see_it(client, factory):
    _login(client, factory())

    assert client.get(URL).status_code == 404


def test_school_admin_sees_queues_workers_and_inference_load(
    client, settings, school_admin, inference_up, inference_down
):
    settings.INFERENCE_URLS = [inference_up, inference_down]
    _login(client, school_admin)

    response = client.get(URL)

    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="status-queues"' in html
    assert html.count('data-testid="inference-worker"') == 2
    # the stand-in worker's /v1/load: 3 waiting, 8 running chat requests
    assert "chat: 3 / 8" in html
    assert "Not answering" in html  # the second worker
    # worker addresses are internal: the page numbers workers instead
    assert inference_up not in html
    if not settings.REDIS_URL:
        assert "there are no queues" in html
        assert "Tasks run inside the web process." in html


def test_superusers_see_it_too(client, settings, inference_down):
    settings.INFERENCE_URLS = [inference_down]
    _login(client, UserFactory(is_superuser=True, is_staff=True))

    assert client.get(URL).status_code == 200


def test_dashboard_links_school_admins_to_the_status_page(client, school_admin):
    _login(client, school_admin)

    html = client.get(reverse("accounts:dashboard")).content.decode()

    assert f'href="{URL}" data-testid="status-link"' in html


def test_dashboard_has_no_link_for_teachers(client):
    _login(client, TeacherFactory())

    assert (
        'data-testid="status-link"'
        not in client.get(reverse("accounts:dashboard")).content.decode()
    )


def test_queue_names_include_default_speech_and_every_routed_queue(settings):
    settings.CELERY_TASK_ROUTES = {
        "voice.tasks.transcribe_clip": {"queue": "speech"},
        "x.y": {"queue": "bulk"},
    }

    assert selectors.celery_queue_names() == ["bulk", "default", "speech"]


def test_no_queues_or_workers_when_tasks_run_in_process(settings):
    settings.REDIS_URL = ""
    settings.CELERY_TASK_ALWAYS_EAGER = True

    assert selectors.celery_queue_depths() is None
    assert selectors.celery_workers() is None


def test_unreachable_redis_gives_unknown_depths(settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    settings.CELERY_TASK_ROUTES = {}

    assert selectors.celery_queue_depths() == {"default": None, "speech": None}


@pytest.mark.services
def test_services_mode_queue_depths_come_from_redis(settings):
    if not settings.REDIS_URL:
        pytest.skip("needs REDIS_URL: the embedded default has no queues")
    # A queue of this test's own: other tests' workers consume `default` on this Redis.
    queue = f"ops-test-{uuid.uuid4().hex}"
    settings.CELERY_TASK_ROUTES = {"tests.ops.anything": {"queue": queue}}
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        client.rpush(queue, "a", "b")
        client.rpush(f"{queue}\x06\x166", "c")  # a prioritised message (kombu's sibling list)

        depths = selectors.celery_queue_depths()
    finally:
        client.delete(queue, f"{queue}\x06\x166")
        client.close()

    assert depths[queue] == 3
    assert set(depths) == {"default", "speech", queue}
    assert all(isinstance(depth, int) for depth in depths.values())


@pytest.mark.services
def test_services_mode_a_running_worker_answers_the_ping(celery_live, settings):
    if celery_live is None:
        pytest.skip("needs REDIS_URL: tasks run eagerly on the embedded default")

    workers = selectors.celery_workers()

    assert workers.get(celery_live.hostname) is True
