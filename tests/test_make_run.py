"""`make run` as a user runs it, on the embedded default (SQLite, the filesystem broker, no
Redis): the demo's credentials come last, in a box, and work; the worker and beat log what
changed — a channel down, back, a sweep that found something — and nothing per dispatch; Ctrl-C
stops everything cleanly.

Beat's periods and the probe interval are cut to 1 s (tests/make_run_settings.py), so a few
seconds hold many dispatches.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from bench.fake_upstream import reply_text
from config.env import BASE_DIR
from tests.gateway.conftest import _free_port

LINE = re.compile(r"^\d\d:\d\d:\d\d (?P<name>\S+)\s+\| (?P<text>.*)$")
# Celery's own lines per task and per dispatch, which must not be in the log at INFO.
DISPATCH = re.compile(r"Sending due task|Task \S+\[[0-9a-f-]+\] (received|succeeded)")
CHANNEL = "demo-fake-upstream"
STATE_CHANGE = re.compile(
    rf"INFO channels\.tasks channel '{CHANNEL}' \(#\d+\) is (healthy|healthy again)$"
    rf"|WARNING channels\.tasks channel '{CHANNEL}' \(#\d+\) is down: .+"
)
ROLLUP = "INFO switchyard.worker rollup: 1 usage record(s) added to the hourly and daily rollups"


@dataclass
class Running:
    """`make run` in its own process group, its output collected line by line."""

    process: subprocess.Popen[str]
    env: dict[str, str]
    lines: list[str] = field(default_factory=list)

    def wait_for(self, pattern: str, *, after: int = 0, timeout: float = 60) -> int:
        """The index of the first line from `after` on that matches `pattern`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for index in range(after, len(self.lines)):
                if re.search(pattern, self.lines[index]):
                    return index
            assert self.process.poll() is None, "make run exited:\n" + self.output()
            time.sleep(0.1)
        raise AssertionError(f"no line matching {pattern!r} in:\n" + self.output())

    def output(self) -> str:
        return "\n".join(self.lines)

    def manage(self, code: str) -> str:
        """Run Python in `manage.py shell` against the demo's database, as an operator could."""
        return subprocess.run(  # noqa: S603 (our own interpreter and manage.py)
            [sys.executable, "manage.py", "shell", "--no-imports", "-c", code],
            cwd=BASE_DIR,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout


def _read(process: subprocess.Popen[str], lines: list[str]) -> None:
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line.rstrip("\n"))


@pytest.fixture
def make_run(tmp_path: Path) -> Iterator[Running]:
    """`make run` on free ports with an empty `var/`, stopped with Ctrl-C's SIGINT at the end."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "GATEWAY_JOURNAL_DIR")
    }
    env.update(
        SWITCHYARD_VAR_DIR=str(tmp_path / "var"),
        DJANGO_SETTINGS_MODULE="tests.make_run_settings",
    )
    port, upstream_port = _free_port(), _free_port()
    process = subprocess.Popen(  # noqa: S603
        [
            shutil.which("make") or "make",
            "--no-print-directory",
            "run",
            f"PORT={port}",
            f"FAKE_UPSTREAM_PORT={upstream_port}",
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        encoding="utf-8",
        start_new_session=True,
    )
    running = Running(process, env)
    reader = threading.Thread(target=_read, args=(process, running.lines), daemon=True)
    reader.start()
    try:
        yield running
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def test_make_run_shows_the_credentials_last_and_logs_state_changes_only(make_run):
    box_end = make_run.wait_for(r"^╚═+╝$", timeout=120)
    box = make_run.lines[make_run.wait_for(r"^╔═+╗$") : box_end + 1]
    started = [
        make_run.wait_for(rf"system\s+\| {name} started")
        for name in ("gateway", "worker", "beat", "upstream")
    ]
    ready = [
        make_run.wait_for(r"Application startup complete"),
        make_run.wait_for(r"celery@\S+ ready\."),
        make_run.wait_for(r"switchyard\.worker beat started: probe-due-channels every 1 s"),
        make_run.wait_for(r"fake upstream listening"),
    ]
    assert max(started + ready) < box_end
    url = re.search(r"API base URL +(\S+)", "\n".join(box)).group(1)
    key = re.search(r"API key +(sk-sy-\S+)", "\n".join(box)).group(1)
    password = re.search(r"Log in as +admin / (\S+)", "\n".join(box)).group(1)
    saved = Path(make_run.env["SWITCHYARD_VAR_DIR"]) / "demo-credentials.txt"
    assert f"SWITCHYARD_API_KEY={key}\n" in saved.read_text()
    assert f"SWITCHYARD_ADMIN_PASSWORD={password}\n" in saved.read_text()
    assert oct(saved.stat().st_mode & 0o777) == "0o600"

    # The printed key works, and the request is logged.
    answer = httpx.post(
        f"{url}/chat/completions",
        headers={"Authorization": f"Bearer {key}"},
        json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}]},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["choices"][0]["message"]["content"] == reply_text()
    make_run.wait_for(r'switchyard\.requests \{"request_id".*"status":"ok"', after=box_end)
    make_run.wait_for(re.escape(ROLLUP), after=box_end)
    # The login on the admin works with the printed password.
    with httpx.Client(base_url=url.removesuffix("/v1"), timeout=30) as browser:
        login = browser.get("/admin/login/")
        token = browser.cookies["csrftoken"]
        done = browser.post(
            "/admin/login/",
            data={"username": "admin", "password": password, "csrfmiddlewaretoken": token},
            headers={"Referer": str(login.url)},
        )
        assert done.status_code == 302, done.text

    # The demo channel, once its first probe found it healthy, goes down (its upstream moved
    # away) and comes back.
    make_run.wait_for(r"channels\.tasks channel .* is healthy$")
    channel = f"Channel.objects.get(name={CHANNEL!r})"
    setup = "from channels.models import Channel; from channels.services import channel_update"
    base_url = make_run.manage(f"{setup}; print({channel}.base_url)").strip()
    dead = f"http://127.0.0.1:{_free_port()}/v1"
    make_run.manage(f"{setup}; channel_update(channel={channel}, fields={{'base_url': {dead!r}}})")
    down = make_run.wait_for(r"channels\.tasks channel .* is down:", after=box_end)
    make_run.manage(
        f"{setup}; channel_update(channel={channel}, fields={{'base_url': {base_url!r}}})"
    )
    back = make_run.wait_for(r"channels\.tasks channel .* is healthy again", after=down)
    # Three more probes of the healthy channel: several more periods of beat and the worker
    # with nothing to say (a probe takes a dispatch and two polls of the filesystem broker).
    count = "from channels.models import HealthCheck; print(HealthCheck.objects.count())"
    probes_then = int(make_run.manage(count))
    deadline = time.monotonic() + 60
    while int(make_run.manage(count)) < probes_then + 3:
        assert time.monotonic() < deadline, "the healthy channel was not probed again"
        time.sleep(0.5)

    # Ctrl-C: the terminal sends SIGINT to the whole group, make included (it says
    # "Interrupt" once the processes have stopped).
    running_until = len(make_run.lines)
    os.killpg(make_run.process.pid, signal.SIGINT)
    assert make_run.process.wait(timeout=30) in (0, -signal.SIGINT), make_run.output()
    for name in ("gateway", "worker", "beat", "upstream"):
        make_run.wait_for(rf"system\s+\| {name} stopped", after=back)
    with pytest.raises(httpx.TransportError):
        httpx.get(url.removesuffix("/v1") + "/healthz", timeout=2)

    lines = [LINE.match(line) for line in make_run.lines]
    assert not [line for line in make_run.lines if DISPATCH.search(line)]
    assert not [line for line in make_run.lines if "No hostname was supplied" in line]
    celery_after_box = [
        match["text"]
        for match in lines[box_end:running_until]
        if match and match["name"] in ("worker", "beat") and match["text"].strip()
    ]
    # After start-up and until Ctrl-C, the worker and beat said only what changed.
    assert all(STATE_CHANGE.search(text) or text.endswith(ROLLUP) for text in celery_after_box), (
        celery_after_box
    )
    assert sum(text.endswith(ROLLUP) for text in celery_after_box) == 1
    state_changes = [text for text in make_run.lines if STATE_CHANGE.search(text)]
    assert [re.search(r"is (healthy again|healthy|down)", t).group(1) for t in state_changes] == [
        "healthy",
        "down",
        "healthy again",
    ]
    assert down < back
