import shutil
import subprocess
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_docker_compose_file_is_valid():
    # Debian ships Compose v1 (docker-compose); v2 (`docker compose`) validates the same schema.
    compose = shutil.which("docker-compose")
    assert compose, "docker-compose is installed by the bootstrap"
    result = subprocess.run([compose, "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    services = subprocess.run([compose, "-f", str(ROOT / "docker-compose.yml"), "config", "--services"],
                              capture_output=True, text=True, cwd=ROOT).stdout.split()
    assert {"postgis", "gateway", "catalogue"} <= set(services)


def test_ci_runs_make_test_and_readme_has_the_two_commands():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make up" in readme and "make test" in readme


def test_compose_runs_gateway_replicas_behind_the_balancer():
    compose = shutil.which("docker-compose")
    assert compose, "docker-compose is installed by the bootstrap"
    config = yaml.safe_load(subprocess.run([compose, "-f", str(ROOT / "docker-compose.yml"), "config"],
                                           capture_output=True, text=True, cwd=ROOT, check=True).stdout)
    services = config["services"]
    assert services["gateway"]["deploy"]["replicas"] >= 2 and "ports" not in services["gateway"]
    assert [p["target"] for p in services["balancer"]["ports"]] == [8000]
    # Compose v1 writes a mount as "source:target:mode"
    assert [v.split(":")[0] for v in services["balancer"]["volumes"]] == [str(ROOT / "deploy" / "balancer.conf")]
    assert "server gateway:8000;" in (ROOT / "deploy" / "balancer.conf").read_text()
