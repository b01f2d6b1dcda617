"""The command line (`python app.py ingest|kb ...`) and the real server surviving a restart."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx

from tests.utils.server import PYTHON, ROOT, running_app

DEMO = ROOT / "knowledge" / "demo"


def cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {"FRONTDESK_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [PYTHON, "app.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def test_ingest_list_search_and_delete_from_the_command_line(data_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "broken.pdf"
    bad.write_bytes(b"%PDF-1.4 nope")
    done = cli(data_dir, "ingest", str(DEMO / "refunds.md"), str(DEMO / "shipping-costs.md"), str(bad))
    assert done.returncode == 1  # one file failed, and says so
    assert "added" in done.stdout and "refunds" in done.stdout
    assert "broken.pdf" in done.stdout and "could not be read" in done.stdout
    assert "Ingesting" in done.stderr  # the progress bar

    again = cli(data_dir, "ingest", str(DEMO / "refunds.md"))
    assert again.returncode == 0 and "unchanged" in again.stdout

    listed = json.loads(cli(data_dir, "kb", "list", "--json").stdout)
    assert sorted(d["id"] for d in listed) == ["refunds", "shipping-costs"]

    found = cli(data_dir, "kb", "search", "when will my refund arrive", "--k", "3", "--json")
    hits = json.loads(found.stdout)
    assert len(hits) == 3 and hits[0]["document"] == "refunds"
    assert hits[0]["chunk_id"].startswith("refunds:") and hits[0]["score"] >= hits[1]["score"]

    assert cli(data_dir, "kb", "delete", "refunds").returncode == 0
    assert cli(data_dir, "kb", "delete", "refunds").returncode == 1
    assert [d["id"] for d in json.loads(cli(data_dir, "kb", "list", "--json").stdout)] == ["shipping-costs"]


def test_history_survives_a_restart(data_dir: Path) -> None:
    env = {"FRONTDESK_ANSWER_TOKENS": "24"}
    with running_app(data_dir, env=env) as base:
        first = httpx.post(
            f"{base}/api/v1/chat", json={"message": "How much is shipping?"}, timeout=120
        ).json()
    with running_app(data_dir, env=env) as base:
        history = httpx.get(f"{base}/api/v1/sessions/{first['session_id']}/messages").json()["messages"]
        assert [(m["role"], m["content"]) for m in history] == [
            ("user", "How much is shipping?"),
            ("assistant", first["reply"]),
        ]
        more = httpx.post(
            f"{base}/api/v1/chat",
            json={"message": "And to Canada?", "session_id": first["session_id"]},
            timeout=120,
        )
        assert more.status_code == 200
        # The demo help center is ingested once, not again on the second start.
        assert httpx.get(f"{base}/healthz").json()["documents"] == 18
