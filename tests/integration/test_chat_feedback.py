"""The chat's thumbs: Gradio names the liked message by its position in the chat; the rating lands on
the stored reply shown there (real SQLite), and a position that no longer shows it changes nothing."""

from __future__ import annotations

from pathlib import Path

from memory import ConversationStore
from review import FeedbackService
from storage import make_engine, migrate
from web.chat_feedback import CHANGED, rate_shown_message
from web.chat_view import to_chat_messages


def test_a_thumb_in_the_chat_rates_the_reply_shown_there(data_dir: Path) -> None:
    engine = make_engine(f"sqlite:///{data_dir / 'chat.db'}")
    migrate(engine)
    store, feedback = ConversationStore(engine), FeedbackService(engine)
    session = store.create_session()
    first = store.add_message(session_id=session, role="user", content="Do you sell kettles?")
    reply = store.add_message(
        session_id=session, role="assistant", content="Yes, three kinds.", reply_to=first.id
    )
    store.add_message(session_id=session, role="user", content="And lamps?")  # still waiting
    person = store.add_message(session_id=session, role="human_agent", content="Ana here: lamps too.")
    shown = to_chat_messages(store.messages(session))
    assert [m["role"] for m in shown] == ["user", "assistant", "user", "assistant", "assistant"]

    def like(index: int, liked: bool | str, value: object = None) -> str | None:
        return rate_shown_message(
            store=store,
            feedback=feedback,
            session_id=session,
            index=index,
            value=shown[index]["content"] if value is None else value,
            liked=liked,
        )

    assert like(1, False) is None
    assert feedback.for_messages([reply.id])[reply.id].rating == "down"
    assert like(1, True) is None and feedback.for_messages([reply.id])[reply.id].rating == "up"
    assert like(4, False) is None and feedback.for_messages([person.id])[person.id].rating == "down"
    assert like(1, "") is None and reply.id not in feedback.for_messages([reply.id])  # withdrawn
    # The "waiting" placeholder, a stale page and another session's view record nothing.
    assert like(3, False) == CHANGED
    assert like(1, False, value=["Something else entirely"]) == CHANGED
    assert like(99, False, value="Yes, three kinds.") == CHANGED
    assert (
        rate_shown_message(
            store=store, feedback=feedback, session_id=None, index=1, value=shown[1]["content"], liked=False
        )
        == CHANGED
    )
    assert feedback.for_messages([reply.id]) == {}
