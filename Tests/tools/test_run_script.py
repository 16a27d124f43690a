"""scripts/run with no Redis configured starts a redis-server of its own (AOF on, data in .tally/redis),
so one command gives a working daemon whose votes survive a restart.

The script runs from a copy of the repository's layout in a temporary folder, with the tallyd that
`swift test` built in place of its release build (a `swift` on PATH that does nothing stands in
for the build step)."""
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ORGANIZER = "organizer-token-for-run-test-01"
TALLYD = os.path.join(ROOT, ".build", "debug", "tallyd")  # as `swift test` builds it


def request(port, method, path, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else None
    call = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method,
                                  headers={"Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(call, timeout=5) as response:
        return response.status, json.loads(response.read() or b"null")


def redis_cli(port, *arguments):
    return subprocess.run(["redis-cli", "-p", str(port), *arguments], capture_output=True, text=True).stdout.strip()


class RunScript:
    """`scripts/run config.toml` in `folder`: the ports of its Redis and of tallyd, as they log them."""

    def __init__(self, folder, environment):
        self.process = subprocess.Popen(["bash", "scripts/run", "config.toml"], cwd=folder, env=environment,
                                         stderr=subprocess.PIPE, text=True, start_new_session=True)
        self.redis_port = int(self.logged(r"local redis-server on 127\.0\.0\.1:(\d+), data in \.tally/redis"))
        self.port = int(self.logged(r"listening on 127\.0\.0\.1:(\d+)"))
        deadline = time.time() + 20
        while True:
            try:
                if request(self.port, "GET", "/readyz")[0] == 200:
                    return
            except OSError:
                pass
            assert time.time() < deadline, "tallyd did not become ready"
            time.sleep(0.1)

    def logged(self, pattern) -> str:
        """The first group of the next line that matches."""
        while True:
            line = self.process.stderr.readline()
            assert line, f"scripts/run ended before logging {pattern!r} (exit {self.process.wait()})"
            if found := re.search(pattern, line):
                return found.group(1)

    def redis_pid(self) -> int:
        return int(redis_cli(self.redis_port, "INFO", "server").split("process_id:")[1].split()[0])

    def stop(self) -> int:
        """SIGTERM, as systemd or Ctrl-C sends it; the script's exit status."""
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=20)


def layout(tmp_path):
    """A copy of the repository's layout for scripts/run, and the environment to run it in."""
    folder = tmp_path / "tally"
    (folder / "scripts").mkdir(parents=True)
    shutil.copy(os.path.join(ROOT, "scripts", "run"), folder / "scripts" / "run")
    (folder / ".build" / "release").mkdir(parents=True)
    os.symlink(TALLYD, folder / ".build" / "release" / "tallyd")
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "swift").write_text("#!/bin/sh\nexit 0\n")
    (tools / "swift").chmod(stat.S_IRWXU)
    (folder / "config.toml").write_text(f"""
[server]
listen = "127.0.0.1:0"
loops = 1
[auth]
organizer_tokens = ["{ORGANIZER}"]
voter_secret = "voter-secret-for-the-run-test-01"
trusted_proxies = ["127.0.0.1"]
""")
    environment = {name: value for name, value in os.environ.items() if name != "TALLY_REDIS_ADDRESS"}
    environment["PATH"] = f"{tools}:{environment['PATH']}"
    return folder, environment


def run_to_completion(folder, environment):
    return subprocess.run(["bash", "scripts/run", "config.toml"], cwd=folder, env=environment, capture_output=True,
                          text=True, timeout=30)


def test_without_a_configured_redis_the_run_command_starts_one_and_keeps_the_votes(tmp_path):
    folder, environment = layout(tmp_path)
    organizer = {"Authorization": f"Bearer {ORGANIZER}"}

    run = RunScript(folder, environment)
    try:
        status, poll = request(run.port, "POST", "/v1/polls", {"question": "Encore?", "options": ["yes", "no"]}, organizer)
        assert status == 201
        assert request(run.port, "POST", f"/v1/polls/{poll['id']}/votes", {"choices": [1]}, {"X-Voter-Id": "ann"})[0] == 200
        assert redis_cli(run.redis_port, "CONFIG", "GET", "appendonly").split() == ["appendonly", "yes"]
        assert redis_cli(run.redis_port, "CONFIG", "GET", "appendfsync").split() == ["appendfsync", "always"]
        assert redis_cli(run.redis_port, "HGET", f"{{p:{poll['id']}}}:ballots", "ann") == f"{1 << 1:016x}"
    finally:
        status = run.stop()
    assert status == 0
    assert redis_cli(run.redis_port, "PING") != "PONG", "the script stops its Redis with tallyd"
    assert (folder / ".tally" / "redis" / "appendonlydir").is_dir()

    run = RunScript(folder, environment)  # the same command again: the data is where it was
    try:
        status, results = request(run.port, "GET", f"/v1/polls/{poll['id']}/results", headers=organizer)
        assert status == 200
        assert [option["votes"] for option in results["options"]] == [0, 1]
    finally:
        assert run.stop() == 0


def test_a_second_run_in_the_same_folder_is_refused_and_names_the_first(tmp_path):
    """Two runs on one .tally/redis would be two Redis servers writing one append-only file (and
    two daemons sharing the port): the second is refused, and told which run holds the folder."""
    folder, environment = layout(tmp_path)
    run = RunScript(folder, environment)
    try:
        second = run_to_completion(folder, environment)
        assert second.returncode == 1
        assert "scripts/run: already running in" in second.stderr, second.stderr
        assert f"scripts/run (pid {run.process.pid})" in second.stderr, second.stderr
        assert "tallyd (pid " in second.stderr and f"redis-server (pid {run.redis_pid()}) on 127.0.0.1:{run.redis_port}" in second.stderr
        assert request(run.port, "GET", "/readyz")[0] == 200, "the first run goes on"
    finally:
        assert run.stop() == 0

    # The lock is held by every process of a run: with the script itself killed, its tallyd and
    # Redis still hold the folder.
    run = RunScript(folder, environment)
    try:
        run.process.kill()
        run.process.wait()
        assert request(run.port, "GET", "/readyz")[0] == 200
        second = run_to_completion(folder, environment)
        assert second.returncode == 1 and "already running" in second.stderr, second.stderr
    finally:
        os.killpg(run.process.pid, signal.SIGTERM)  # tallyd and its Redis, left behind
        deadline = time.time() + 10
        while redis_cli(run.redis_port, "PING") == "PONG" and time.time() < deadline:
            time.sleep(0.1)
