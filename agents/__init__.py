"""The turn: store the message, load the FIFO window, retrieve, run the tool loop, persist the reply."""

from agents.turn import SupportAgent, TurnEvent, TurnResult
from agents.validation import InvalidMessageError, clean_message

__all__ = ["InvalidMessageError", "SupportAgent", "TurnEvent", "TurnResult", "clean_message"]
