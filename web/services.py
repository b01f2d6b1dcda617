"""The parts the web layer serves, handed in by app.py (no module-level clients), and the
`ServicesDep` dependency through which routes reach them (`app.state.services`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from agents.trial import PromptTrials
from agents.turn import SupportAgent
from commerce import CommerceService
from handoff import HandoffService
from integrations.wiring import Integrations
from knowledge.store import KnowledgeBase
from llm.probe import BackendMonitor
from memory.store import ConversationStore
from prompts import PromptStore
from review import ConversationBrowser, FeedbackService
from settings import Settings
from web.admin_auth import AdminAuth


@dataclass
class Services:
    settings: Settings
    store: ConversationStore
    agent: SupportAgent
    admin: AdminAuth
    model_description: str
    knowledge: KnowledgeBase | None = None
    commerce: CommerceService | None = None
    handoff: HandoffService | None = None
    integrations: Integrations | None = None
    # The versioned prompts the admin edits, and trial turns with a draft (web/api_prompts.py).
    prompts: PromptStore | None = None
    prompt_trials: PromptTrials | None = None
    # The `openai` backend's probe (what the server serves, whether tools work); None: embedded.
    backend: BackendMonitor | None = None
    # Read from the store's database, one of each per process: customers' ratings and the
    # admin's conversation list (the Inbox tab, the Conversations tab and the REST routes share it).
    feedback: FeedbackService = field(init=False)
    browser: ConversationBrowser = field(init=False)

    def __post_init__(self) -> None:
        self.feedback = FeedbackService(self.store.engine)
        self.browser = ConversationBrowser(self.store.engine, self.feedback)


def get_services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]
