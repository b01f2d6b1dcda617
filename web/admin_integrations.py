"""The admin console's Integrations tab: channels (create, rotate; the secret shown once), callback
deliveries (retry the failed ones) and API keys (create, revoke). A thin adapter over integrations/."""

from __future__ import annotations

from typing import Any

import gradio as gr

from integrations import UnknownChannelError
from integrations.apikeys import ApiKeyExistsError, UnknownApiKeyError
from integrations.callback_urls import CallbackUrlError
from integrations.channels import ChannelExistsError
from web.services import Services

CHANNEL_COLUMNS = ["name", "callback_url", "created_at", "rotated_at", "previous_secret_valid_until"]
DELIVERY_COLUMNS = ["id", "channel", "kind", "status", "attempts", "last_error", "url", "created_at"]
KEY_COLUMNS = ["name", "prefix", "created_at", "revoked_at"]


def build_integrations_tab(services: Services) -> None:
    """Adds the Integrations tab to the Blocks being built (call inside its `with`)."""
    integrations = services.integrations
    if integrations is None:
        return

    def channel_rows() -> list[list[Any]]:
        return [[c.public()[k] or "" for k in CHANNEL_COLUMNS] for c in integrations.channels.all()]

    def delivery_rows(status: str) -> list[list[Any]]:
        rows = integrations.outbox.deliveries(status=None if status == "all" else status)
        return [[d.public()[k] if d.public()[k] is not None else "" for k in DELIVERY_COLUMNS] for d in rows]

    def key_rows() -> list[list[Any]]:
        return [[k.public()[c] or "" for c in KEY_COLUMNS] for k in integrations.keys.all()]

    def create_channel(name: str, callback: str) -> tuple[str, list]:
        try:
            info, secret = integrations.channels.create(name.strip(), callback_url=callback.strip() or None)
        except (ChannelExistsError, CallbackUrlError, ValueError) as exc:
            return f"❌ {exc}", channel_rows()
        return f"Channel **{info.name}** created. Its signing secret, shown once: `{secret}`", channel_rows()

    def rotate_channel(name: str) -> tuple[str, list]:
        try:
            info, secret = integrations.channels.rotate(name.strip())
        except UnknownChannelError:
            return f"❌ There is no channel named {name.strip()!r}.", channel_rows()
        until = info.previous_valid_until.isoformat() if info.previous_valid_until else "now"
        return (
            f"New secret for **{info.name}**, shown once: `{secret}` (the old one works until {until})",
            channel_rows(),
        )

    def retry(delivery_id: float | None, status: str) -> tuple[str, list]:
        if delivery_id is None or not integrations.outbox.retry(int(delivery_id)):
            return "❌ Give the id of a failed delivery.", delivery_rows(status)
        return f"Delivery {int(delivery_id)} will be tried again.", delivery_rows(status)

    def create_key(name: str) -> tuple[str, list]:
        try:
            info, key = integrations.keys.create(name.strip())
        except (ApiKeyExistsError, ValueError) as exc:
            return f"❌ {exc}", key_rows()
        return f"API key **{info.name}**, shown once: `{key}`", key_rows()

    def revoke_key(name: str) -> tuple[str, list]:
        try:
            integrations.keys.revoke(name.strip())
        except UnknownApiKeyError:
            return f"❌ There is no active key named {name.strip()!r}.", key_rows()
        return f"Key **{name.strip()}** revoked.", key_rows()

    with gr.Tab("Integrations"):
        result = gr.Markdown(elem_id="integrations-result")
        gr.Markdown("### Channels (signed webhooks)")
        channels = gr.Dataframe(headers=CHANNEL_COLUMNS, value=channel_rows, interactive=False)
        with gr.Row():
            channel_name = gr.Textbox(label="Channel name", elem_id="channel-name")
            callback = gr.Textbox(label="Callback URL (optional)")
            create_button = gr.Button("Create channel", variant="primary", elem_id="channel-create")
            rotate_button = gr.Button("Rotate secret")
        gr.Markdown("### Callback deliveries")
        show = gr.Radio(["failed", "pending", "delivered", "all"], value="failed", label="Show")
        deliveries = gr.Dataframe(
            headers=DELIVERY_COLUMNS, value=lambda: delivery_rows("failed"), interactive=False
        )
        with gr.Row():
            delivery_id = gr.Number(label="Delivery id", precision=0)
            retry_button = gr.Button("Retry")
        gr.Markdown("### API keys")
        keys = gr.Dataframe(headers=KEY_COLUMNS, value=key_rows, interactive=False)
        with gr.Row():
            key_name = gr.Textbox(label="Key name")
            key_button = gr.Button("Create key")
            revoke_button = gr.Button("Revoke", variant="stop")
        create_button.click(create_channel, inputs=[channel_name, callback], outputs=[result, channels])
        rotate_button.click(rotate_channel, inputs=[channel_name], outputs=[result, channels])
        show.change(delivery_rows, inputs=[show], outputs=[deliveries])
        retry_button.click(retry, inputs=[delivery_id, show], outputs=[result, deliveries])
        key_button.click(create_key, inputs=[key_name], outputs=[result, keys])
        revoke_button.click(revoke_key, inputs=[key_name], outputs=[result, keys])
