"""The admin console (Gradio, behind the admin login): the knowledge base tab, the Inbox tab
(web/admin_inbox.py) where people answer the conversations handed to them, the Conversations
tab (web/admin_conversations.py) with the turn inspector, ratings and the fine-tuning export,
the Prompts tab (web/admin_prompts.py) and the Integrations tab (web/admin_integrations.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import gradio as gr

from knowledge.loaders import DocumentError
from web.admin_conversations import build_conversations_tab
from web.admin_inbox import build_inbox_tab
from web.admin_integrations import build_integrations_tab
from web.admin_prompts import build_prompts_tab
from web.services import Services

# The documents table: each field of `KnowledgeBase.documents()` and its column header, title first.
COLUMNS = {
    "title": "Title",
    "id": "Id",
    "filename": "File",
    "chunks": "Chunks",
    "size_bytes": "Size (bytes)",
    "updated_at": "Updated",
}
# Runs in the browser before `delete`: the chosen document and whether the admin confirmed.
DELETE_CONFIRM = """(doc, _) => [doc, doc ? confirm(`Delete ${doc} and all its chunks? Answers will no longer use it.`) : false]"""


def _row(document: dict[str, Any]) -> list[Any]:
    """A document's table row; its time to the minute (the ISO form is too wide for the table)."""
    updated = datetime.fromisoformat(document["updated_at"]).astimezone(UTC)
    return [f"{updated:%Y-%m-%d %H:%M} UTC" if c == "updated_at" else document[c] for c in COLUMNS]


def build_admin_ui(services: Services) -> gr.Blocks:
    kb = services.knowledge

    def table() -> list[list[Any]]:
        if kb is None:
            return []
        return [_row(d) for d in kb.documents()]

    def doc_choices() -> gr.Dropdown:
        return gr.Dropdown(
            choices=[(f"{d['title']} ({d['id']})", d["id"]) for d in (kb.documents() if kb else [])],
            value=None,
        )

    def upload(
        files: list[str] | None, progress: gr.Progress = gr.Progress()
    ) -> tuple[str, list, gr.Dropdown, None]:
        """Index the chosen files, then empty the picker so the next click does not index them again."""
        if kb is None:
            return "The knowledge base is not configured.", table(), doc_choices(), None
        lines = []
        for path in progress.tqdm(files or [], desc="Indexing"):
            name = Path(path).name
            try:
                result = kb.ingest(name, Path(path).read_bytes())
                lines.append(f"✅ {name}: {result.status}, {result.chunks} chunks")
            except DocumentError as exc:
                lines.append(f"❌ {name}: {exc}")
        return "\n".join(lines) or "No file chosen.", table(), doc_choices(), None

    def delete(doc_id: str | None, confirmed: bool) -> tuple[str, list, gr.Dropdown]:
        if not doc_id or kb is None:
            return "Choose a document first.", table(), doc_choices()
        if not confirmed:
            return f"Nothing deleted: {doc_id} is still in the knowledge base.", table(), gr.Dropdown()
        done = kb.delete(doc_id)
        return (f"Deleted {doc_id}." if done else f"{doc_id} was already gone."), table(), doc_choices()

    def reindex(doc_id: str | None) -> tuple[str, list, gr.Dropdown]:
        if not doc_id or kb is None:
            return "Choose a document first.", table(), doc_choices()
        try:
            result = kb.reindex(doc_id)
        except (KeyError, FileNotFoundError, DocumentError) as exc:
            return f"Could not re-index {doc_id}: {exc}", table(), doc_choices()
        return f"Re-indexed {doc_id}: {result.chunks} chunks.", table(), doc_choices()

    def search(query: str) -> list[list[Any]]:
        if kb is None or not query.strip():
            return []
        return [[c.score, c.document, c.chunk_id, c.text[:300]] for c in kb.search(query, k=5)]

    with gr.Blocks(title="Frontdesk admin") as ui:
        gr.Markdown("## Frontdesk admin")
        with gr.Tab("Knowledge base"):
            files = gr.File(
                label="Add documents (.md, .txt, .html, .pdf, .docx)",
                file_count="multiple",
                file_types=[".md", ".markdown", ".txt", ".html", ".htm", ".pdf", ".docx"],
                elem_id="kb-upload",
            )
            upload_button = gr.Button("Upload and index", variant="primary", elem_id="kb-upload-button")
            status = gr.Textbox(label="Result", lines=3, interactive=False, elem_id="kb-status")
            documents = gr.Dataframe(
                headers=list(COLUMNS.values()), value=table, interactive=False, elem_id="kb-documents"
            )
            with gr.Row():
                chosen = gr.Dropdown(label="Document", choices=[], elem_id="kb-chosen")
                delete_button = gr.Button("Delete", variant="stop")
                reindex_button = gr.Button("Re-index")
            with gr.Accordion("Try a search", open=False):
                query = gr.Textbox(label="Query")
                hits = gr.Dataframe(headers=["score", "document", "chunk", "text"], interactive=False)
            upload_button.click(upload, inputs=[files], outputs=[status, documents, chosen, files])
            # The browser asks first: a deleted document's chunks are gone, and only its file brings it back.
            confirmed = gr.Checkbox(False, visible=False)  # a State would not take the browser's answer
            delete_button.click(
                delete,
                inputs=[chosen, confirmed],
                outputs=[status, documents, chosen],
                js=DELETE_CONFIRM,
            )
            reindex_button.click(reindex, inputs=[chosen], outputs=[status, documents, chosen])
            query.submit(search, inputs=[query], outputs=[hits])
        build_inbox_tab(services, ui)
        build_conversations_tab(services, ui)
        build_prompts_tab(services, ui)
        build_integrations_tab(services)
        ui.load(lambda: (table(), doc_choices()), outputs=[documents, chosen])
    return ui
