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
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
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


def test_expected_services_exist():
    assert set(SERVICES) == {"web", "proxy", "worker", "beat", "inference", "postgres", "redis"}
    devices = SERVICES["inference"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia"


@pytest.mark.parametrize("name", ["web", "proxy", "worker", "inference", "postgres", "redis"])
def test_long_running_services_have_health_checks(name):
    assert SERVICES[name]["healthcheck"]["test"]


def _command(service: dict) -> str:
    command = service.get("command", "")
    return " ".join(command) if isinstance(command, list) else command


def test_commands_refer_to_code_that_exists():
    web = _command(SERVICES["web"])
    module, _, attribute = re.search(r"uvicorn (\S+)", web).group(1).partition(":")
    assert (ROOT / (module.replace(".", "/") + ".py")).read_text().count(f"{attribute} =") == 1
    assert "manage.py migrate" in web
    for name in ("worker", "beat"):
        assert _command(SERVICES[name]).startswith("celery -A config ")
    assert "app = Celery(" in (ROOT / "config" / "celery.py").read_text()
    dockerfile = (ROOT / "Dockerfile.inference").read_text()
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
