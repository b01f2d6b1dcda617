"""How many turns run at once follows the backend: the chat's queue limit and the worker threads."""

from __future__ import annotations

import anyio.to_thread

from tests.utils.server import free_port


def chat_blocks(app):
    """The Gradio Blocks mounted at "/" (the customer chat)."""
    mounts = [r for r in app.routes if getattr(r, "path", None) == "" and hasattr(r.app, "get_blocks")]
    return mounts[0].app.get_blocks()


def limits(make_client, **settings) -> tuple[int, int, int]:
    # No server needs to answer: the limits are set when the app is built.
    url = f"http://127.0.0.1:{free_port()}/v1"
    with make_client(demo_data=False, llm_backend="openai", llm_base_url=url, **settings) as client:
        blocks = chat_blocks(client.app)
        threads = client.portal.call(lambda: anyio.to_thread.current_default_thread_limiter().total_tokens)
    return blocks._queue.default_concurrency_limit, blocks.max_threads, threads


def test_a_batching_server_gets_many_turns_at_once_and_the_setting_overrides(make_client) -> None:
    queue, gradio_threads, rest_threads = limits(make_client)
    assert queue == 256 and gradio_threads >= 256 and rest_threads >= 256
    assert limits(make_client, chat_concurrency=12)[0] == 12
