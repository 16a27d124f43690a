"""Fixtures for tests that drive the real tallyd with real clients (Python libraries, schemathesis)."""
import base64
import hashlib
import hmac
import json
import os
import re
import socket
import subprocess
import tempfile
import time
import urllib.request

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ORGANIZER = "organizer-token-for-compat-01"
SECRET = b"voter-secret-for-compat-tests-01"


def tallyd_binary() -> str:
    for build in ("debug", "release"):
        path = os.path.join(ROOT, ".build", build, "tallyd")
        if os.path.exists(path):
            return path
    raise RuntimeError("build tallyd first (swift build)")


def mint(voter: str, ttl: int = 3600) -> str:
    """A voter token, minted from the format documented in README.md."""
    def b64url(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    signed = f"v1.{b64url(voter.encode())}.{int(time.time()) + ttl}"
    return f"{signed}.{b64url(hmac.new(SECRET, signed.encode(), hashlib.sha256).digest())}"


class Tallyd:
    def __init__(self, process, port, redis):
        self.process, self.port, self.redis = process, port, redis
        self.url = f"http://127.0.0.1:{port}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_redis():
    """A real redis-server run from the shipped deploy/redis.conf, on a free port with a throwaway
    data folder; returns (process, port)."""
    port = free_port()
    directory = tempfile.mkdtemp(prefix="tally-redis-")
    shipped = os.path.join(os.path.dirname(__file__), "..", "..", "deploy", "redis.conf")
    process = subprocess.Popen(
        ["redis-server", shipped, "--port", str(port), "--bind", "127.0.0.1", "--dir", directory, "--daemonize", "no",
         "--logfile", ""],
        stdout=subprocess.DEVNULL)
    for _ in range(200):
        if subprocess.run(["redis-cli", "-p", str(port), "PING"], capture_output=True, text=True).stdout.strip() == "PONG":
            return process, port
        time.sleep(0.02)
    raise RuntimeError("redis-server did not start")


def start_tallyd(auth="", shared=None, port=0, server=""):
    """A tallyd with its own Redis, or on `shared` (another daemon's Redis: (process, port)).
    `auth`, `server`: more lines for its [auth] and [server] tables; `port`: where it listens (0:
    any free one)."""
    redis, redis_port = shared or start_redis()
    config = tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False)
    config.write(f"""
[server]
listen = "127.0.0.1:{port}"
loops = 2
keep_closed_s = 1
{server}
[auth]
organizer_tokens = ["{ORGANIZER}"]
voter_secret = "{SECRET.decode()}"
{auth}
[redis]
address = "127.0.0.1:{redis_port}"
""")
    config.close()
    process = subprocess.Popen([tallyd_binary(), "run", "--config", config.name], stderr=subprocess.PIPE, text=True)
    log = ""
    match = None
    while match is None:
        line = process.stderr.readline()
        assert line, f"tallyd did not start: {log}"
        log += line
        match = re.search(r"listening on [^ ]+:(\d+)", line)
    daemon = Tallyd(process, int(match.group(1)), redis)
    daemon.redis_port = redis_port
    daemon.owns_redis = shared is None
    urllib.request.urlopen(f"{daemon.url}/healthz").read()
    return daemon, config.name


def stop_tallyd(daemon, config):
    daemon.process.terminate()
    assert daemon.process.wait(timeout=10) == 0, "tallyd must drain and exit 0"
    if daemon.owns_redis:
        daemon.redis.kill()
        daemon.redis.wait()
    os.unlink(config)


@pytest.fixture(scope="module")
def daemons(request):
    """Two daemons sharing one Redis, for a module's tests; its `DAEMON_AUTH` adds lines to their
    [auth] tables."""
    auth = getattr(request.module, "DAEMON_AUTH", "")
    first, first_config = start_tallyd(auth=auth)
    second, second_config = start_tallyd(auth=auth, shared=(first.redis, first.redis_port))
    yield first, second
    stop_tallyd(second, second_config)
    stop_tallyd(first, first_config)


@pytest.fixture
def tallyd():
    daemon, config = start_tallyd()
    yield daemon
    stop_tallyd(daemon, config)


@pytest.fixture(scope="module")
def tallyd_module():
    daemon, config = start_tallyd()
    yield daemon
    stop_tallyd(daemon, config)


# Closed polls let go of (`[server] keep_closed_s`, 1 s in these daemons): test_closed_polls.py and
# test_nextcloud_talk.py.


def metric(daemon, name):
    text = urllib.request.urlopen(f"{daemon.url}/metrics").read().decode()
    return next((int(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(name + " ")), None)


def let_go(*daemons):
    """Waits (up to 6 s) until no daemon holds a closed poll and each has let go of at least one."""
    deadline = time.monotonic() + 6
    while time.monotonic() < deadline:
        if all(metric(d, 'tally_polls{state="closed"}') == 0 and metric(d, "tally_polls_let_go") >= 1 for d in daemons):
            return
        time.sleep(0.05)
    raise AssertionError("the closed poll was not let go of")


def plain(value):
    """A client's result as plain data, without the client's own attributes (pnutpy's `_api`)."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items() if not str(key).startswith("_")}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value


def outcome(read, daemon):
    """What a read on `daemon` returned, or the exception it raised, as comparable text (links to
    the daemon itself, as Mastodon's `url`, written alike)."""
    try:
        text = json.dumps(plain(read(daemon)), default=str, sort_keys=True)
    except Exception as error:  # a refusal is an answer too
        text = f"{type(error).__name__}: {error.args!r}"
    return text.replace(daemon.url, "http://daemon")


def same_before_and_after(daemons, reads):
    """The reads' answers on every daemon, the same before and after the poll is let go of."""
    for daemon in daemons:  # a first read makes each daemon follow the poll's tallies in Redis
        for read in reads:
            outcome(read, daemon)
    time.sleep(0.6)  # `results_refresh_ms` is 250
    before = [[outcome(read, d) for read in reads] for d in daemons]
    assert before[0] == before[1], "both daemons answer alike"
    let_go(*daemons)
    after = [[outcome(read, d) for read in reads] for d in daemons]
    assert after == before
    return before
