"""Conversation order: the order a person reads a conversation in, each customer message followed by
the rows that answer it.

The store keeps rows in the order they were written (by id). When a customer sends a second message
while the first is still being answered, both are stored before either reply, so storage order reads
"question, question, answer, answer". Every place that shows or replays a conversation (the chat, the
admin's transcripts, the REST history, the model's context, the fine-tuning export) threads the rows
with `turns` instead: a reply names the message it answers (`reply_to`).
"""

from __future__ import annotations

from collections.abc import Sequence

from memory.store import StoredMessage


def turns(history: Sequence[StoredMessage]) -> list[list[StoredMessage]]:
    """The conversation in groups, in conversation order: each customer message with the rows that
    answer it (its tool steps, tool results and reply, in the order they were stored), and every
    other row alone where it was stored (a notice, a person's reply; a reply stored before replies
    named their message, or whose message is not in `history`).

    A row stored after a notice or a person's reply that came after its message stays after them,
    alone: the customer saw it there ("handed back to the assistant", then the bot's answer to what
    they had written while the person held the conversation)."""
    questions = {m.id for m in history if m.role == "user"}
    grouped: list[list[StoredMessage]] = []
    open_groups: dict[int, list[StoredMessage]] = {}  # questions whose answers still join them
    for m in history:
        if m.role == "user":
            grouped.append([m])
            open_groups[m.id] = grouped[-1]
        elif m.reply_to in open_groups:
            open_groups[m.reply_to].append(m)
        else:
            if m.reply_to not in questions:
                open_groups.clear()  # a notice or a person's reply: later answers come after it
            grouped.append([m])
    return grouped


def conversation_order(history: Sequence[StoredMessage]) -> list[StoredMessage]:
    """Every row of `history` once, each reply (and its turn's steps) right after the message it
    answers: the order the customer saw the conversation in."""
    return [m for turn in turns(history) for m in turn]
