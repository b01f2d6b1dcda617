"""Two processes on one knowledge base: the running server (or a test process) and the CLI.

Embedded Chroma caches its vector index per process, so the server holds the data dir's lock and the
CLI's write commands refuse while it runs; with a `chroma run` server both share one store. Either
way a search never fails on a chunk another process deleted.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx

from knowledge import build_knowledge_base
from knowledge.seeding import DEMO_DIR
from settings import Settings
from storage import make_engine, migrate
from tests.integration.conftest import ADMIN
from tests.integration.test_cli_and_restart import cli
from tests.utils.server import PYTHON, ROOT, free_port, running_app, running_chroma

GIFT_WRAPPING = "# Gift Wrapping\n\nWe wrap any order in recycled kraft paper for $4.50 per item.\n"
NO_DEMO = {"FRONTDESK_DEMO_DATA": "false", "FRONTDESK_ANSWER_TOKENS": "24"}


def test_a_chunk_deleted_by_another_process_is_skipped_not_a_crash(embedder, data_dir: Path) -> None:
    settings = Settings(data_dir=data_dir)
    engine = make_engine(settings.resolved_database_url)
    migrate(engine)
    kb = build_knowledge_base(settings, engine, embedder)
    kb.ingest("gift-wrapping.md", GIFT_WRAPPING.encode())
    kb.ingest("refunds.md", (DEMO_DIR / "refunds.md").read_bytes())
    assert kb.search("gift wrap price", k=3)[0].document == "gift-wrapping"  # loads this process's index

    deleted = cli(data_dir, "kb", "delete", "gift-wrapping")
    assert deleted.returncode == 0, deleted.stderr

    hits = kb.search("gift wrap price", k=3)
    assert hits and all(h.document == "refunds" for h in hits)
    assert all(c.document == "refunds" for c in kb.retrieve("how much does gift wrapping cost?"))


def test_the_cli_refuses_to_write_while_the_server_runs_and_reads_work(
    data_dir: Path, tmp_path: Path
) -> None:
    article = tmp_path / "gift-wrapping.md"
    article.write_text(GIFT_WRAPPING)
    with running_app(data_dir, env=NO_DEMO) as base:
        added = httpx.post(
            f"{base}/api/v1/admin/documents",
            auth=ADMIN,
            files={"file": ("refunds.md", (DEMO_DIR / "refunds.md").read_bytes())},
            timeout=60,
        )
        assert added.status_code == 201

        refused = cli(data_dir, "ingest", str(article))
        assert refused.returncode == 1
        assert "POST /api/v1/admin/documents" in refused.stderr and "running" in refused.stderr
        assert "Traceback" not in refused.stderr
        refused_delete = cli(data_dir, "kb", "delete", "refunds")
        assert refused_delete.returncode == 1 and "DELETE /api/v1/admin/documents/" in refused_delete.stderr

        listed = cli(data_dir, "kb", "list")
        assert listed.returncode == 0 and "refunds" in listed.stdout
        found = cli(data_dir, "kb", "search", "when will my refund arrive", "--k", "1")
        assert found.returncode == 0 and "refunds:" in found.stdout

        # A second server on the same data dir says who holds it, before loading any model.
        port = free_port()
        second = subprocess.run(
            [PYTHON, "app.py", "--port", str(port)],
            cwd=ROOT,
            env={"FRONTDESK_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert second.returncode == 1 and "in use by server (pid" in second.stderr
        assert "Traceback" not in second.stderr

        # The server is unharmed by the CLI's reads.
        hits = httpx.get(f"{base}/api/v1/admin/kb/search", params={"q": "refund"}, auth=ADMIN, timeout=60)
        assert hits.status_code == 200 and hits.json()["results"][0]["document"] == "refunds"
        assert [
            d["id"] for d in httpx.get(f"{base}/api/v1/admin/documents", auth=ADMIN).json()["documents"]
        ] == ["refunds"]

    # Once the server has stopped, the CLI writes.
    assert cli(data_dir, "ingest", str(article)).returncode == 0
    with running_app(data_dir, env=NO_DEMO) as base:
        hits = httpx.get(
            f"{base}/api/v1/admin/kb/search", params={"q": "kraft paper"}, auth=ADMIN, timeout=60
        )
        assert hits.json()["results"][0]["document"] == "gift-wrapping"


def test_with_a_chroma_server_the_cli_and_the_server_share_one_store(data_dir: Path, tmp_path: Path) -> None:
    article = tmp_path / "gift-wrapping.md"
    article.write_text(GIFT_WRAPPING)
    with running_chroma(tmp_path / "chroma") as chroma_url:
        env = {**NO_DEMO, "FRONTDESK_CHROMA_URL": chroma_url}
        with running_app(data_dir, env=env) as base:

            def search(q: str) -> httpx.Response:
                return httpx.get(f"{base}/api/v1/admin/kb/search", params={"q": q}, auth=ADMIN, timeout=60)

            ingested = cli(data_dir, "ingest", str(article), str(DEMO_DIR / "refunds.md"), env=env)
            assert ingested.returncode == 0, ingested.stdout + ingested.stderr
            assert search("kraft paper gift wrap").json()["results"][0]["document"] == "gift-wrapping"
            # The server re-indexes it, the CLI deletes it: the server's searches go on.
            assert (
                httpx.post(f"{base}/api/v1/admin/documents/gift-wrapping/reindex", auth=ADMIN).status_code
                == 200
            )
            assert cli(data_dir, "kb", "delete", "gift-wrapping.md", env=env).returncode == 0
            after = search("kraft paper gift wrap")
            assert after.status_code == 200
            assert [r["document"] for r in after.json()["results"]] == ["refunds"] * len(
                after.json()["results"]
            )
            chat = httpx.post(
                f"{base}/api/v1/chat", json={"message": "How much is gift wrapping?"}, timeout=120
            )
            assert chat.status_code == 200
            assert all(c["document"] != "gift-wrapping" for c in chat.json()["citations"])
