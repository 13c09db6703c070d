"""`bench.run --stack cluster --gateways 2`, briefly (quick, chat door only): the gateway's
requests go through nginx to both gateway processes, and the run reports the stack, the summed
gateway CPU, nginx's CPU apart and each process's RSS."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.plan import CHAT_DOOR, GATEWAY, REFERENCE

pytestmark = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL") or not os.environ.get("REDIS_URL"),
    reason="the cluster stack runs on PostgreSQL + Redis (scripts/with-services)",
)
ROOT = Path(__file__).resolve().parents[2]


def test_the_cluster_stack_sends_the_bench_through_nginx_to_both_gateways(tmp_path):
    output = tmp_path / "run.json"
    argv = [sys.executable, "-m", "bench.run", "--stack", "cluster", "--gateways", "2"]
    argv += ["--quick", "--door", "chat", "--json", str(output)]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=240)  # noqa: S603

    assert done.returncode == 0, done.stderr[-2000:]
    assert "nginx in front of 2 gateway processes" in done.stdout
    run = json.loads(output.read_text())
    assert (run["meta"]["stack"], run["meta"]["gateways"]) == ("cluster", 2)
    targets = run["doors"][CHAT_DOOR]["targets"]
    gateway, reference = targets[GATEWAY], targets[REFERENCE]
    assert gateway["failure"] == reference["failure"] == ""
    ns = gateway["results"]["ns-c64"]
    assert ns["ok"] > 0
    assert ns["errors"] == 0
    assert ns["cpu_ms_per_request"] is not None
    assert ns["front_cpu_ms_per_request"] is not None
    assert reference["results"]["ns-c64"]["front_cpu_ms_per_request"] is not None
    assert len(gateway["results"]["paced"]["rss_kib_by_process"]) == 2
    work = tmp_path / "logs" / "gateway-chat"
    ports = {g["port"] for g in json.loads((work / "state.json").read_text())["gateways"]}
    served = {
        int(line.split("upstream=")[1].split()[0].rsplit(":", 1)[1])
        for line in (work / "nginx-access.log").read_text().splitlines()
        if "POST /v1/chat/completions" in line
    }
    assert served == ports, "nginx sent the bench's requests to both gateway processes"
