"""Start-up on a data dir that cannot be written (read-only, full), and demo seeding that resumes.

The read-only and full file systems are real: a read-only bind mount and a small tmpfs, each in a
private mount namespace (`unshare`), so the tests need no root and leave nothing mounted.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from knowledge import build_knowledge_base
from knowledge.seeding import DEMO_DIR, seed_demo_data
from settings import Settings
from storage import make_engine, migrate
from tests.utils.server import PYTHON, ROOT, free_port


def _can_unshare() -> bool:
    if not shutil.which("unshare"):
        return False
    try:
        return subprocess.run(["unshare", "-rm", "true"], capture_output=True, timeout=10).returncode == 0
    except OSError:
        return False


needs_unshare = pytest.mark.skipif(not _can_unshare(), reason="needs user namespaces (unshare -rm)")


def run_in_mount_namespace(setup: str, *args: str, data_dir: Path) -> subprocess.CompletedProcess:
    """`python app.py ARGS` after the shell `setup` prepared the mounts, in a private mount namespace."""
    command = f"{setup} && exec {shlex.quote(PYTHON)} app.py {' '.join(shlex.quote(a) for a in args)}"
    env = {"FRONTDESK_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        ["unshare", "-rm", "sh", "-c", command],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def assert_one_line_error(done: subprocess.CompletedProcess, *needles: str) -> None:
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("frontdesk: ") or last.startswith("app.py: "), last
    for needle in needles:
        assert needle in last, last


@needs_unshare
@pytest.mark.parametrize("command", [["--port", "0"], ["ingest", "README.md"]], ids=["serve", "ingest"])
def test_a_read_only_data_dir_is_a_one_line_error(data_dir: Path, command: list[str]) -> None:
    (data_dir / "keep.txt").write_text("existing data stays as it was")
    d = shlex.quote(str(data_dir))
    ro = f"mount --bind {d} {d} && mount -o remount,bind,ro {d}"
    if command[0] == "--port":
        command = ["--port", str(free_port())]
    done = run_in_mount_namespace(ro, *command, data_dir=data_dir)
    assert_one_line_error(done, str(data_dir), "Read-only file system")
    assert (data_dir / "keep.txt").read_text() == "existing data stays as it was"


@needs_unshare
def test_a_full_data_dir_is_a_one_line_error(data_dir: Path) -> None:
    d = shlex.quote(str(data_dir))
    full = f"mount -t tmpfs -o size=256k tmpfs {d} && (head -c 1M /dev/zero > {d}/filler 2>/dev/null; true)"
    done = run_in_mount_namespace(full, "--port", str(free_port()), data_dir=data_dir)
    assert_one_line_error(done, str(data_dir), "No space left on device")


def test_demo_seeding_interrupted_half_way_is_completed_on_the_next_start(embedder, data_dir: Path) -> None:
    settings = Settings(data_dir=data_dir, demo_data=True)
    engine = make_engine(settings.resolved_database_url)
    migrate(engine)
    kb = build_knowledge_base(settings, engine, embedder)
    demo = sorted(DEMO_DIR.glob("*.md"))
    kb.ingest_paths(demo[:5])  # the first start stopped here, before writing its marker
    before = {d["id"]: d["updated_at"] for d in kb.documents()}

    seed_demo_data(settings, kb)
    after = {d["id"]: d["updated_at"] for d in kb.documents()}
    assert len(after) == len(demo) == 18
    assert all(after[i] == t for i, t in before.items())  # the first five were not indexed again
    assert (data_dir / ".demo_seeded").exists()

    # Seeded once: deleting a demo article keeps it deleted.
    kb.delete("refunds")
    seed_demo_data(settings, kb)
    assert len(kb.documents()) == 17


def test_a_knowledge_base_with_its_own_documents_gets_no_demo(embedder, data_dir: Path) -> None:
    settings = Settings(data_dir=data_dir, demo_data=True)
    engine = make_engine(settings.resolved_database_url)
    migrate(engine)
    kb = build_knowledge_base(settings, engine, embedder)
    kb.ingest("our-returns.md", b"# Our Returns\n\nWe take returns for 60 days.")
    seed_demo_data(settings, kb)
    assert [d["id"] for d in kb.documents()] == ["our-returns"]


SEED_AND_REPORT = """
import json
from knowledge import build_knowledge_base
from knowledge.seeding import seed_demo_data
from settings import Settings
from storage import make_engine, migrate
settings = Settings()
engine = make_engine(settings.resolved_database_url)
migrate(engine)
kb = build_knowledge_base(settings, engine)
before = len(kb.documents())
seed_demo_data(settings, kb)
docs = kb.documents()
print(json.dumps({"before": before, "after": len(docs), "chunks": sum(d["chunks"] for d in docs),
                  "stored": kb.chunk_count(), "marker": (settings.data_dir / ".demo_seeded").exists()}))
"""


@needs_unshare
def test_a_disk_that_fills_up_while_seeding_stops_the_start_and_seeding_resumes_later(data_dir: Path) -> None:
    d = shlex.quote(str(data_dir))
    python = shlex.quote(PYTHON)
    # Room for the 1 MiB check but not for the whole demo: the disk fills up half-way through it.
    script = (
        f"mount -t tmpfs -o size=1300k tmpfs {d} && "
        f"{{ {python} app.py --port {free_port()}; echo rc=$?; }} && "
        f"mount -o remount,size=20m {d} && {python} -c {shlex.quote(SEED_AND_REPORT)}"
    )
    env = {"FRONTDESK_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        ["unshare", "-rm", "sh", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )
    assert "rc=1" in done.stdout, done.stdout + done.stderr[-3000:]
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert f"frontdesk: the data dir {data_dir} is not writable: No space left on device" in done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert 0 < report["before"] < 18  # the first start got part of the way
    assert report["after"] == 18 and report["marker"] is True
    assert report["chunks"] == report["stored"]  # nothing half-indexed was left behind
