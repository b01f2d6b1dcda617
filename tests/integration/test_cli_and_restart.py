"""The command line (`python app.py ingest|kb ...`) and the real server surviving a restart."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import httpx

from tests.utils.server import PYTHON, ROOT, running_app

DEMO = ROOT / "knowledge" / "demo"


def cli(data_dir: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`python app.py ARGS...` on `data_dir`, as a user would run it."""
    full_env = {
        "FRONTDESK_DATA_DIR": str(data_dir),
        "HF_HUB_OFFLINE": "1",
        "ANONYMIZED_TELEMETRY": "False",
        "PATH": "/usr/bin:/bin",
        **(env or {}),
    }
    return subprocess.run(
        [PYTHON, "app.py", *args], cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=300
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
    missing = cli(data_dir, "kb", "delete", "refunds")
    assert missing.returncode == 1 and "no document" in missing.stderr
    # A file name (with its folder, as it was ingested) names the document too.
    assert cli(data_dir, "kb", "delete", str(DEMO / "shipping-costs.md")).returncode == 0
    assert json.loads(cli(data_dir, "kb", "list", "--json").stdout) == []


def test_ingesting_a_folder_skips_unsupported_files_and_fails_only_for_bad_documents(
    data_dir: Path, tmp_path: Path
) -> None:
    docs = tmp_path / "docs"
    (docs / "nested").mkdir(parents=True)
    (docs / "refunds.md").write_bytes((DEMO / "refunds.md").read_bytes())
    (docs / "nested" / "Store Hours.txt").write_text("Our showroom opens at 10am, Tuesday to Saturday.")
    (docs / "build.py").write_text("print('not a help article')")
    (docs / "prices.csv").write_text("sku,price\n1,2\n")
    (docs / ".git").mkdir()
    (docs / ".git" / "config").write_text("[core]")

    done = cli(data_dir, "ingest", str(docs))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "skipped" in done.stdout and "build.py" in done.stdout and "prices.csv" in done.stdout
    assert ".git" not in done.stdout
    assert "2 added, 2 skipped, 0 failed" in done.stdout
    ids = sorted(d["id"] for d in json.loads(cli(data_dir, "kb", "list", "--json").stdout))
    assert ids == ["refunds", "store-hours"]
    assert cli(data_dir, "kb", "delete", "Store Hours.txt").returncode == 0

    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 nope")
    failed = cli(data_dir, "ingest", str(docs), str(tmp_path / "missing.md"))
    assert failed.returncode == 1
    assert "broken.pdf" in failed.stdout and "missing.md" in failed.stdout
    assert "1 added, 1 unchanged, 2 skipped, 2 failed" in failed.stdout


def test_listing_needs_no_embedding_model_and_says_when_the_kb_is_empty(data_dir: Path) -> None:
    listed = cli(data_dir, "kb", "list")
    assert listed.returncode == 0 and "empty" in listed.stdout
    assert cli(data_dir, "kb", "list", "--json").stdout.strip() == "[]"
    assert cli(data_dir, "ingest", str(DEMO / "refunds.md")).returncode == 0
    # In one process: listing and deleting never load the embedding model's runtime; searching does.
    probe = (
        "import sys, app\n"
        "codes = [app.main(['kb', 'list']), app.main(['kb', 'delete', 'nothing.md'])]\n"
        "print(codes, 'onnxruntime' in sys.modules)\n"
        "app.main(['kb', 'search', 'refund'])\n"
        "print('onnxruntime' in sys.modules)\n"
    )
    env = {"FRONTDESK_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    ran = subprocess.run(
        [PYTHON, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    lines = ran.stdout.strip().splitlines()
    assert "[0, 1] False" in lines and lines[-1] == "True", ran.stdout + ran.stderr


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
