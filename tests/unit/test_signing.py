"""Webhook signatures: the format, the time window both ways, rotation, tampering; the examples'
independent implementations agree with ours both ways. And the callback URL guard (SSRF)."""

from __future__ import annotations

import time

import pytest

from examples.callback_receiver import verify_signature
from examples.webhook_client import signature_header
from integrations.callback_urls import CallbackUrlError, check_callback_url, pin_callback_url
from integrations.signing import SignatureError, sign, verify

BODY = b'{"event_id": "e1", "text": "hi"}'


def test_a_signed_body_verifies_and_the_examples_agree_both_ways() -> None:
    verify(sign("whsec_a", BODY), BODY, ["whsec_a"])
    verify(signature_header("whsec_a", BODY), BODY, ["whsec_a"])
    assert verify_signature("whsec_a", sign("whsec_a", BODY), BODY)
    assert not verify_signature("whsec_b", sign("whsec_a", BODY), BODY)


def test_any_of_several_v1_values_may_match_any_current_secret() -> None:
    header = sign(["whsec_old", "whsec_new"], BODY)
    assert header.count("v1=") == 2
    verify(header, BODY, ["whsec_new"])
    verify(sign("whsec_old", BODY), BODY, ["whsec_new", "whsec_old"])
    assert verify_signature("whsec_new", header, BODY)


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, "signature_missing"),
        ("", "signature_missing"),
        ("v1=" + "a" * 64, "signature_malformed"),
        ("t=123", "signature_malformed"),
        ("t=abc,v1=" + "a" * 64, "signature_malformed"),
        ("t=1,t=2,v1=" + "a" * 64, "signature_malformed"),
        ("t=1,v1=nothex", "signature_malformed"),
        ("garbage", "signature_malformed"),
    ],
)
def test_missing_and_malformed_headers_say_which(header: str | None, code: str) -> None:
    with pytest.raises(SignatureError) as caught:
        verify(header, BODY, ["whsec_a"])
    assert caught.value.code == code


@pytest.mark.parametrize("skew", [-301, 301])
def test_a_timestamp_over_five_minutes_off_either_way_is_stale(skew: int) -> None:
    header = sign("whsec_a", BODY, now=time.time() + skew)
    with pytest.raises(SignatureError) as caught:
        verify(header, BODY, ["whsec_a"])
    assert caught.value.code == "signature_stale"
    verify(sign("whsec_a", BODY, now=time.time() + (290 if skew > 0 else -290)), BODY, ["whsec_a"])


def test_a_changed_body_or_another_secret_does_not_match() -> None:
    header = sign("whsec_a", BODY)
    for body, keys in ((BODY + b" ", ["whsec_a"]), (BODY, ["whsec_b"])):
        with pytest.raises(SignatureError) as caught:
            verify(header, body, keys)
        assert caught.value.code == "signature_mismatch"


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/cb",
        "http://localhost/cb",
        "http://10.1.2.3/cb",
        "http://192.168.0.10/cb",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/cb",
        "http://0.0.0.0/cb",
        "ftp://example.com/cb",
        "http://user:pw@93.184.216.34/cb",
        "not a url",
    ],
)
def test_callbacks_to_private_or_odd_urls_are_refused(url: str) -> None:
    with pytest.raises(CallbackUrlError):
        check_callback_url(url, allow_private=False)


def test_public_addresses_pass_and_loopback_passes_only_when_allowed() -> None:
    assert check_callback_url("https://93.184.216.34/cb", allow_private=False)
    assert check_callback_url("http://127.0.0.1:9/cb", allow_private=True)


def test_a_delivery_connects_to_the_address_that_was_checked() -> None:
    plain = pin_callback_url("http://localhost:8123/cb?x=1", allow_private=True)
    assert plain.url == "http://127.0.0.1:8123/cb?x=1"
    assert plain.host_header == "localhost:8123" and plain.server_name is None
    tls = pin_callback_url("https://93.184.216.34/hook", allow_private=False)
    assert tls.url == "https://93.184.216.34/hook" and tls.server_name == "93.184.216.34"
