"""Settings whose defaults depend on other settings: the company shown to customers."""

from __future__ import annotations

import pytest

from settings import DEMO_COMPANY_NAME, DEMO_TOPICS, Settings


def test_the_demo_company_is_the_default_only_with_the_demo_data(monkeypatch: pytest.MonkeyPatch) -> None:
    demo = Settings()
    assert (demo.company_name, demo.assistant_name, demo.topics) == (DEMO_COMPANY_NAME, None, DEMO_TOPICS)

    monkeypatch.setenv("FRONTDESK_DEMO_DATA", "false")
    own = Settings()
    assert (own.company_name, own.assistant_name, own.topics) == (None, None, [])


def test_company_assistant_and_topics_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTDESK_DEMO_DATA", "false")
    monkeypatch.setenv("FRONTDESK_COMPANY_NAME", "Acme Tools")
    monkeypatch.setenv("FRONTDESK_ASSISTANT_NAME", " Ada ")
    monkeypatch.setenv("FRONTDESK_TOPICS", "drills, saws ,, warranty")
    settings = Settings()
    assert (settings.company_name, settings.assistant_name) == ("Acme Tools", "Ada")
    assert settings.topics == ["drills", "saws", "warranty"]


def test_blank_values_mean_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTDESK_COMPANY_NAME", "  ")
    monkeypatch.setenv("FRONTDESK_TOPICS", "")
    settings = Settings()
    assert settings.company_name == DEMO_COMPANY_NAME  # blank is unset: the demo default applies
    assert settings.topics == []  # an empty list is a choice: no topics
