"""Admin REST routes for the knowledge base (`/api/v1/admin/...`, HTTP Basic checked by `AdminGate`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, UploadFile
from fastapi.responses import JSONResponse, Response

from knowledge.store import KnowledgeBase
from web.admin_auth import AdminUser
from web.errors import ApiError
from web.schemas import DocumentList, IngestResult, SearchResults, error_responses
from web.services import ServicesDep


def knowledge_base(services: ServicesDep) -> KnowledgeBase:
    if services.knowledge is None:
        raise ApiError(503, "knowledge_disabled", "The knowledge base is not configured.")
    return services.knowledge


KnowledgeDep = Annotated[KnowledgeBase, Depends(knowledge_base)]

router = APIRouter(
    prefix="/api/v1/admin",
    tags=["admin: knowledge base"],
    responses=error_responses(401, 422, 429, 503),
)


@router.get("/documents", summary="List the documents")
def list_documents(_: AdminUser, kb: KnowledgeDep) -> DocumentList:
    return DocumentList.model_validate({"documents": kb.documents()})


@router.post(
    "/documents",
    summary="Add or replace a document (multipart `file`)",
    status_code=201,
    response_model=IngestResult,
    responses={
        200: {"model": IngestResult, "description": "Same id and content: `unchanged`, or `updated`."},
        201: {"description": "A new document was added."},
        **error_responses(409, 413, 415),
    },
)
def upload_document(_: AdminUser, kb: KnowledgeDep, services: ServicesDep, file: UploadFile) -> JSONResponse:
    """`.md .txt .html .pdf .docx`, up to FRONTDESK_MAX_UPLOAD_BYTES; the id comes from the file name."""
    data = file.file.read(services.settings.max_upload_bytes + 1)
    result = kb.ingest(file.filename or "", data)
    return JSONResponse(result.public(), status_code=201 if result.status == "added" else 200)


@router.delete(
    "/documents/{doc_id}", summary="Delete a document", status_code=204, responses=error_responses(404)
)
def delete_document(doc_id: str, _: AdminUser, kb: KnowledgeDep) -> Response:
    if not kb.delete(doc_id):
        raise ApiError(404, "unknown_document", f"No document has the id {doc_id!r}.")
    return Response(status_code=204)


@router.post(
    "/documents/{doc_id}/reindex",
    summary="Split and embed a document again",
    responses=error_responses(404, 415),
)
def reindex_document(doc_id: str, _: AdminUser, kb: KnowledgeDep) -> IngestResult:
    try:
        return IngestResult.model_validate(kb.reindex(doc_id).public())
    except KeyError:
        raise ApiError(404, "unknown_document", f"No document has the id {doc_id!r}.") from None


@router.get("/kb/search", summary="Search the knowledge base")
def search(
    _: AdminUser,
    kb: KnowledgeDep,
    q: Annotated[str, Query(min_length=1, max_length=2000, description="The query text.")],
    k: Annotated[int, Query(ge=1, le=50, description="How many chunks.")] = 3,
) -> SearchResults:
    chunks = kb.search(q, k=k)
    return SearchResults.model_validate(
        {"query": q, "results": [{**c.citation(), "text": c.text} for c in chunks]}
    )
