import shutil
import subprocess
from pathlib import Path

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
