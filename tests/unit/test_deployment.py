"""The compose file is valid against the compose specification and deployable as designed."""

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_compose_file_matches_the_compose_spec():
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        result = subprocess.run([docker, "compose", "-f", str(ROOT / "docker-compose.yml"), "config", "-q"],
                                capture_output=True, env={"MINIO_ROOT_PASSWORD": "x" * 12, "GRAFANA_ADMIN_PASSWORD": "x" * 12,
                                      "PATH": "/usr/bin:/bin"})
    else:
        checker = Path(sys.prefix) / "bin" / "check-jsonschema"
        result = subprocess.run([str(checker), "--builtin-schema", "vendor.compose-spec", str(ROOT / "docker-compose.yml")],
                                capture_output=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_services_scale_and_are_checked():
    spec = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = spec["services"]
    assert {"redis", "minio", "buckets", "ingest", "worker", "transcoder"} <= set(services)
    for name in ("redis", "minio", "ingest", "worker", "transcoder"):
        assert "healthcheck" in services[name], name
    for name in ("worker", "transcoder"):
        assert "container_name" not in services[name] and "ports" not in services[name]   # --scale worker=N
    assert "transcode" in services["transcoder"]["command"]
    assert "mc mb --ignore-existing local/uploads local/smartedu" in " ".join(services["buckets"]["command"])
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "ffmpeg" in dockerfile and "USER smartedu" in dockerfile


def test_compose_runs_redis_so_that_a_restart_loses_nothing():
    """The README's operator section: AOF, fsync every second, never evict a queue key."""
    command = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["redis"]["command"]
    options = dict(zip(command[1::2], command[2::2]))
    assert options["--appendonly"] == "yes" and options["--appendfsync"] == "everysec"
    assert options["--maxmemory-policy"] == "noeviction"
