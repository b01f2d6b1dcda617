"""Concurrent conversations through the signed webhook, on the real app process (`python app.py`,
loopback only, a temporary data dir): throughput and latency percentiles, sync and async.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/webhook_load.py --conversations 32 --turns 2

sync: each conversation's turns are POSTed one after the other and the reply comes in the answer;
latency is request to answer. async: each event names a loopback callback (examples' receiver);
latency is request to the signed reply's arrival. Bounded by --conversations, --turns and --timeout.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _common import ROOT, fmt, machine, percentile, table

sys.path.insert(0, str(ROOT))

import httpx

from examples.callback_receiver import CallbackServer
from examples.webhook_client import send_message
from tests.utils.server import free_port, running_app_process

QUESTIONS = [
    "How many days do I have to return an item?",
    "Which carriers do you ship with?",
    "How do I reset my password?",
    "Do you ship to Canada?",
]
ADMIN = ("admin", "test-admin-pw")


class Timed(CallbackServer):
    """Records when each reply arrives, by the event it answers."""

    def __init__(self, secret: str) -> None:
        super().__init__(secret)
        self.arrived: dict[str, float] = {}
        self.done = threading.Condition()

    def handle_event(self, event: dict) -> None:
        with self.done:
            self.arrived[str(event.get("in_reply_to"))] = time.perf_counter()
            self.done.notify_all()


def run(
    base: str, secret: str, args: argparse.Namespace, receiver: Timed | None
) -> tuple[list[float], float, int]:
    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()
    deadline = time.monotonic() + args.timeout

    def conversation(n: int) -> None:
        nonlocal failures
        for turn in range(args.turns):
            if time.monotonic() > deadline:
                return
            event_id = f"{'async' if receiver else 'sync'}-{n}-{turn}"
            callback = f"http://127.0.0.1:{receiver.server_address[1]}/cb" if receiver else None
            started = time.perf_counter()
            status, _ = send_message(
                base,
                "bench",
                secret,
                QUESTIONS[(n + turn) % len(QUESTIONS)],
                conversation_id=f"c{n}",
                user_id=f"u{n}",
                event_id=event_id,
                callback_url=callback,
                timeout=args.timeout,
            )
            if receiver is not None and status == 202:
                with receiver.done:
                    receiver.done.wait_for(
                        lambda event_id=event_id: event_id in receiver.arrived,
                        timeout=max(0, deadline - time.monotonic()),
                    )
                finished = receiver.arrived.get(event_id)
                status = 200 if finished else 504
            else:
                finished = time.perf_counter()
            with lock:
                if status == 200 and finished:
                    latencies.append(finished - started)
                else:
                    failures += 1

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=args.conversations) as pool:
        list(pool.map(conversation, range(args.conversations)))
    return latencies, time.perf_counter() - started, failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=32)
    parser.add_argument("--turns", type=int, default=2, help="turns per conversation")
    parser.add_argument("--timeout", type=float, default=900, help="seconds for each mode, at most")
    parser.add_argument("--modes", default="sync,async")
    args = parser.parse_args()
    print(machine())
    env = {
        "FRONTDESK_ALLOW_PRIVATE_CALLBACKS": "true",
        "FRONTDESK_RATE_LIMIT_PER_IP": "",
        "FRONTDESK_RATE_LIMIT_PER_SESSION": "",
    }
    rows = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_app_process(Path(tmp) / "data", env=env, port=free_port()) as (base, _),
    ):
        secret = httpx.post(
            f"{base}/api/v1/admin/channels", json={"name": "bench"}, auth=ADMIN, timeout=30
        ).json()["secret"]
        for mode in args.modes.split(","):
            receiver = Timed(secret) if mode == "async" else None
            if receiver is not None:
                threading.Thread(target=receiver.serve_forever, daemon=True).start()
            try:
                latencies, wall, failures = run(base, secret, args, receiver)
            finally:
                if receiver is not None:
                    receiver.shutdown()
            rows.append(
                [
                    mode,
                    len(latencies),
                    failures,
                    fmt(wall),
                    fmt(len(latencies) / wall if wall else 0, 2),
                    *(fmt(percentile(latencies, q)) if latencies else "-" for q in (50, 90, 99)),
                ]
            )
    print(
        table(
            ["mode", "turns", "failed", "wall s", "turns/s", "p50 s", "p90 s", "p99 s"],
            rows,
            title=f"{args.conversations} concurrent conversations × {args.turns} turns through the webhook",
        )
    )


if __name__ == "__main__":
    main()
