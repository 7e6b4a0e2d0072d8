"""docker-compose.yml cannot run here (no Docker engine), so check it statically: every
command, file and variable it names must exist in the code."""

import ipaddress
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text()
COMPOSE = yaml.safe_load(COMPOSE_TEXT)
SERVICES = COMPOSE["services"]
SETTINGS_SOURCE = (ROOT / "config" / "settings" / "base.py").read_text() + (
    ROOT / "config" / "settings" / "prod.py"
).read_text()
INFERENCE_CONFIG = (ROOT / "inference" / "config.py").read_text()
CADDYFILE = (ROOT / "deploy" / "Caddyfile").read_text()
ENV_EXAMPLE = (ROOT / ".env.example").read_text()
# Read by tools, not by our code.
THIRD_PARTY_VARS = {"DJANGO_SETTINGS_MODULE", "HF_HOME"} | {
    "POSTGRES_DB",
    "POSTGRES_USER",
    "POSTGRES_PASSWORD",
}


# Services without a health check, and why (the same reason is written in the file).
NO_HEALTH_CHECK = {"beat": "serves nothing to probe"}
# Services that run our code: built from the repository, never pulled.
OURS = {"web", "worker", "speech-worker", "beat", "inference"}


def test_expected_services_exist():
    assert set(SERVICES) == {
        "web",
        "proxy",
        "worker",
        "speech-worker",
        "beat",
        "inference",
        "postgres",
        "redis",
    }
    devices = SERVICES["inference"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_service_has_a_health_check_or_a_reason(name):
    if name in NO_HEALTH_CHECK:
        assert "healthcheck" not in SERVICES[name]
        assert f"No health check: beat {NO_HEALTH_CHECK[name]}" in COMPOSE_TEXT
    else:
        assert SERVICES[name]["healthcheck"]["test"]


def _command(service: dict) -> str:
    command = service.get("command", "")
    return " ".join(command) if isinstance(command, list) else command


def test_commands_refer_to_code_that_exists():
    web = _command(SERVICES["web"])
    module, _, attribute = re.search(r"uvicorn (\S+)", web).group(1).partition(":")
    assert (ROOT / (module.replace(".", "/") + ".py")).read_text().count(f"{attribute} =") == 1
    for name in ("worker", "speech-worker", "beat"):
        assert _command(SERVICES[name]).startswith("celery -A config ")
    assert "app = Celery(" in (ROOT / "config" / "celery.py").read_text()
    dockerfile = (ROOT / "deploy" / "inference.Dockerfile").read_text()
    assert '"-m", "inference", "serve"' in dockerfile
    assert (ROOT / "inference" / "__main__.py").exists()
    for service in SERVICES.values():
        build = service.get("build")
        if build:
            assert (ROOT / build["dockerfile"]).exists()
        for part in service["healthcheck"]["test"] if "healthcheck" in service else []:
            if part.startswith("scripts/"):
                assert (ROOT / part).exists()


def test_every_environment_variable_is_read_and_documented():
    for name, service in SERVICES.items():
        for var in service.get("environment", {}):
            if var in THIRD_PARTY_VARS:
                continue
            if name == "proxy":
                assert f"{{${var}}}" in CADDYFILE, f"proxy: {var} is not read by its Caddyfile"
            else:
                source = INFERENCE_CONFIG if name == "inference" else SETTINGS_SOURCE
                assert f'"{var}"' in source, f"{name}: {var} is not read by the code"
            assert re.search(rf"^#? ?{var}=", ENV_EXAMPLE, re.M), f"{var} not in .env.example"


def test_every_variable_the_settings_read_is_in_env_example():
    for var in re.findall(r'env\.\w+\(\s*"([A-Z_]+)"', SETTINGS_SOURCE):
        assert re.search(rf"^#? ?{var}=", ENV_EXAMPLE, re.M), f"{var} not in .env.example"


def test_only_the_proxy_is_published():
    assert {name for name, service in SERVICES.items() if service.get("ports")} == {"proxy"}
    assert sorted(SERVICES["proxy"]["ports"]) == ["443:443", "443:443/udp", "80:80"]


def test_web_believes_forwarded_headers_from_the_proxy_alone():
    trusted = re.search(r"--forwarded-allow-ips[= ]'?([^'\s\"]+)", _command(SERVICES["web"]))
    proxy_address = SERVICES["proxy"]["networks"]["edge"]["ipv4_address"]
    subnet = COMPOSE["networks"]["edge"]["ipam"]["config"][0]["subnet"]

    assert trusted.group(1) == proxy_address
    assert ipaddress.ip_address(proxy_address) in ipaddress.ip_network(subnet)
    assert "--proxy-headers" in _command(SERVICES["web"])
    assert SERVICES["web"]["networks"] == ["default", "edge"]
    assert list(SERVICES["proxy"]["networks"]) == ["edge"]


def test_proxy_config_is_committed_and_forwards_to_web_within_the_apps_body_limit():
    from config.asgi import UPLOAD_FORM_BYTES
    from courses.packages import MAX_PACKAGE_BYTES

    mounts = [volume.split(":") for volume in SERVICES["proxy"]["volumes"]]
    assert ["./deploy/Caddyfile", "/etc/caddy/Caddyfile", "ro"] in mounts
    assert re.search(r"^\s*reverse_proxy web:8000\s*$", CADDYFILE, re.M)
    size = re.search(r"max_size (\d+)MiB", CADDYFILE).group(1)
    # The proxy refuses what the app would refuse anyway, never what it accepts.
    assert int(size) * 1024 * 1024 == MAX_PACKAGE_BYTES + UPLOAD_FORM_BYTES


def test_docker_compose_config_is_valid(tmp_path):
    client = shutil.which("docker-compose")
    docker = shutil.which("docker")
    has_plugin = docker and subprocess.run([docker, "compose", "version"], capture_output=True)
    if has_plugin and has_plugin.returncode == 0:
        command = [docker, "compose"]
    elif client:
        command = [client]
    else:
        pytest.skip("no docker compose client installed")
    shutil.copy(ROOT / "docker-compose.yml", tmp_path / "docker-compose.yml")
    # Every variable compose requires (`${VAR:?...}`), and the two prod settings need.
    required = set(re.findall(r"\$\{(\w+):\?", (ROOT / "docker-compose.yml").read_text()))
    values = {"SECRET_KEY": "s", "ALLOWED_HOSTS": "tutor.example.org"}
    values |= {var: "x" for var in required - values.keys()}
    (tmp_path / ".env").write_text("".join(f"{var}={value}\n" for var, value in values.items()))

    result = subprocess.run(
        [*command, "-f", str(tmp_path / "docker-compose.yml"), "config", "-q"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )

    assert result.returncode == 0, result.stderr


def _dockerfile_stages(path: Path) -> set[str]:
    return set(re.findall(r"^FROM \S+ AS (\S+)$", path.read_text(), re.M))


def test_our_services_build_from_committed_dockerfiles():
    for name in OURS:
        build = SERVICES[name]["build"]
        dockerfile = ROOT / build["context"] / build["dockerfile"]
        assert build["context"] == "."
        assert re.fullmatch(r"deploy/\w+\.Dockerfile", build["dockerfile"]), name
        assert dockerfile.is_file()
        if "target" in build:
            assert build["target"] in _dockerfile_stages(dockerfile)
    # Pulled images are the third-party ones only.
    pulled = {name for name, service in SERVICES.items() if "build" not in service}
    assert pulled == {"proxy", "postgres", "redis"}
    assert not (ROOT / "Dockerfile").exists()  # one place for each image
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".env", ".venv", ".git", "node_modules"} <= set(ignored)


def test_web_image_migrates_and_collects_static_files_on_start():
    dockerfile = (ROOT / "deploy" / "web.Dockerfile").read_text()
    entrypoint = ROOT / "deploy" / "entrypoint.sh"
    script = entrypoint.read_text()

    assert 'ENTRYPOINT ["/app/deploy/entrypoint.sh"]' in dockerfile
    assert entrypoint.stat().st_mode & 0o111
    # Only the web server migrates: uvicorn is what the web service runs.
    assert _command(SERVICES["web"]).startswith("uvicorn ")
    assert re.search(r"uvicorn \| daphne\)\s+python manage.py migrate --noinput", script)
    assert "manage.py collectstatic --noinput" in script
    assert "collectstatic --noinput" in dockerfile
    subprocess.run(["sh", "-n", str(entrypoint)], check=True)
    # Workers and beat wait for web (and so for its migrations).
    for name in ("worker", "speech-worker", "beat"):
        assert SERVICES[name]["depends_on"]["web"] == {"condition": "service_healthy"}


def _queues(service: dict) -> set[str]:
    match = re.search(r"-Q (\S+)", _command(service))
    return set(match.group(1).split(",")) if match else set()


def test_workers_consume_every_queue_tasks_are_sent_to():
    from django.conf import settings

    assert _queues(SERVICES["worker"]) == {settings.CELERY_TASK_DEFAULT_QUEUE}
    assert _queues(SERVICES["speech-worker"]) == {"speech"}
    routed = {route["queue"] for route in getattr(settings, "CELERY_TASK_ROUTES", {}).values()}
    consumed = _queues(SERVICES["worker"]) | _queues(SERVICES["speech-worker"])
    assert routed <= consumed
    # Each worker's health check pings that worker, by the name it is started with.
    for name in ("worker", "speech-worker"):
        hostname = re.search(r"--hostname (\w+)@%h", _command(SERVICES[name])).group(1)
        assert f"-d {hostname}@$$HOSTNAME" in SERVICES[name]["healthcheck"]["test"][1]


def test_data_lives_in_named_volumes():
    declared = set(COMPOSE["volumes"])
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert name == "proxy"
                assert source == "./deploy/Caddyfile"
            else:
                assert source in declared, f"{name}: {source} is not a named volume"
    mounts = {
        v.split(":")[0]: v.split(":")[1] for s in SERVICES.values() for v in s.get("volumes", [])
    }
    assert mounts["pgdata"] == "/var/lib/postgresql/data"
    assert mounts["media"] == SERVICES["web"]["environment"]["MEDIA_ROOT"]
    assert "backups" in {v.split(":")[0] for v in SERVICES["web"]["volumes"]}


def test_every_variable_compose_interpolates_is_in_env_example():
    for var in set(re.findall(r"\$\{(\w+)", COMPOSE_TEXT)):
        assert re.search(rf"^#? ?{var}=", ENV_EXAMPLE, re.M), f"{var} not in .env.example"


def test_metrics_are_collected_across_processes_and_exported_by_workers():
    for name in ("web", "worker", "speech-worker"):
        env = SERVICES[name]["environment"]
        # A tmpfs, emptied with every container.
        assert env["PROMETHEUS_MULTIPROC_DIR"].startswith("/tmp/")  # noqa: S108
        assert "/tmp" in SERVICES[name]["tmpfs"]  # noqa: S108
    for name in ("worker", "speech-worker"):
        assert SERVICES[name]["environment"]["CELERY_METRICS_PORT"] == "9808"
        assert "ports" not in SERVICES[name]  # scraped inside the compose network only


def test_every_variable_in_env_example_is_in_the_admin_guide():
    # One direction: .env.example is the list every setting must be in (tests above), and
    # the guide's configuration reference must explain each of them.
    guide = (ROOT / "docs" / "admin.md").read_text()
    reference = guide[guide.index("## Configuration reference") :]
    listed = re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", ENV_EXAMPLE, re.M)

    assert listed
    assert [var for var in listed if f"`{var}`" not in reference] == []
