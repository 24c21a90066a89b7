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
                                      "SMARTEDU_NOTIFY_SECRET": "x" * 12, "SMARTEDU_STATUS_TOKEN": "x" * 12,
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


def test_compose_minio_notifies_ingest_and_keeps_events_while_it_is_down():
    """Issue 29: uploads trigger runs through bucket notifications with the shared secret."""
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    minio = services["minio"]["environment"]
    assert minio["MINIO_NOTIFY_WEBHOOK_ENABLE_INGEST"] == "on"
    assert minio["MINIO_NOTIFY_WEBHOOK_ENDPOINT_INGEST"] == "http://ingest:8088/notifications"
    assert "SMARTEDU_NOTIFY_SECRET" in minio["MINIO_NOTIFY_WEBHOOK_AUTH_TOKEN_INGEST"]
    assert minio["MINIO_NOTIFY_WEBHOOK_QUEUE_DIR_INGEST"].startswith("/data/")       # on the volume: survives a restart
    assert "mc event add local/uploads arn:minio:sqs::INGEST:webhook --event put" in " ".join(services["buckets"]["command"])
    ingest = services["ingest"]
    assert ingest["environment"]["SMARTEDU_INGEST_HTTP_PORT"] == "8088" and "8088:8088" in ingest["ports"]
    assert "SMARTEDU_NOTIFY_SECRET" in ingest["environment"] and "SMARTEDU_STATUS_TOKEN" in ingest["environment"]


def test_compose_sentinel_profile_has_a_replica_and_three_sentinels_of_quorum_two():
    """Issue 28: the README's Sentinel profile, durable as the primary is."""
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    replica = services["redis-replica"]
    options = dict(zip(replica["command"][4::2], replica["command"][5::2]))   # after "--replicaof redis 6379"
    assert replica["profiles"] == ["sentinel"] and replica["command"][1:4] == ["--replicaof", "redis", "6379"]
    assert options["--appendonly"] == "yes" and options["--appendfsync"] == "everysec" and options["--maxmemory-policy"] == "noeviction"
    sentinels = [services[f"sentinel-{n}"] for n in (1, 2, 3)]
    for sentinel in sentinels:
        script = " ".join(sentinel["command"])
        assert sentinel["profiles"] == ["sentinel"] and "--sentinel" in script
        assert "sentinel monitor smartedu redis 6379 2" in script and "resolve-hostnames yes" in script
    assert len({s["volumes"][0] for s in sentinels}) == 3                 # each rewrites its own config
    assert services["ingest"]["environment"]["SMARTEDU_REDIS_MASTER"] == "smartedu"
    assert "SMARTEDU_REDIS_SENTINELS" in services["worker"]["environment"]


def test_compose_runs_redis_so_that_a_restart_loses_nothing():
    """The README's operator section: AOF, fsync every second, never evict a queue key."""
    command = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["redis"]["command"]
    options = dict(zip(command[1::2], command[2::2]))
    assert options["--appendonly"] == "yes" and options["--appendfsync"] == "everysec"
    assert options["--maxmemory-policy"] == "noeviction"


def test_every_smartedu_command_of_the_compose_file_parses_and_the_workers_take_their_queues(monkeypatch):
    """The services' commands through the real CLI (the worker's exec of dramatiq captured):
    a list option takes `-Q` once per queue, and a typo is an error, not a worker on nothing."""
    import os

    from typer.testing import CliRunner

    from config.policy import all_queues
    from workers.cli import app

    started: list[list[str]] = []
    monkeypatch.setattr(os, "execv", lambda path, argv: started.append(argv))
    for name in ("dramatiq_prom_port", "dramatiq_prom_db", "dramatiq_queue_prefetch", "OMP_NUM_THREADS"):
        monkeypatch.delenv(name, raising=False)
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    workers = {name: service["command"] for name, service in services.items() if service.get("command", [None])[0] == "worker"}
    assert set(workers) == {"worker", "transcoder"}
    for name, command in workers.items():
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 0, f"{name}: {result.output}"
    queues = [argv[argv.index("--queues") + 1:] for argv in started]
    assert queues == [["unpack", "video", "documents", "verdict", "callbacks"], ["transcode"]]
    assert set(queues[0]) | set(queues[1]) == set(all_queues())      # every queue has its workers
