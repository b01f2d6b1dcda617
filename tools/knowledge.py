"""The `search_knowledge_base` tool: lets the agent search the help center with its own query."""

from __future__ import annotations

from langchain_core.tools import BaseTool, StructuredTool

from knowledge.types import RetrievedChunk, Retriever
from prompts.templates import quote


def make_search_knowledge_base_tool(retriever: Retriever) -> BaseTool:
    """A tool bound to one retriever (passed in, never a global client)."""

    def search_knowledge_base(query: str) -> tuple[str, list[RetrievedChunk]]:
        """Search the help-center articles and return the most relevant excerpts with their ids.

        Args:
            query: What to look for, in the customer's words or as keywords.
        """
        query = query.strip()
        if not query:
            raise ValueError("query must not be empty")
        chunks = retriever.retrieve(query)
        if not chunks:
            return "No help-center article matches this query.", []
        # Quoted as data; inside a turn the agent shows them through the `excerpts` prompt instead.
        text = "\n\n".join(
            f'<excerpt id="{c.chunk_id}" document="{quote(c.title)}">\n{quote(c.text)}\n</excerpt>'
            for c in chunks
        )
        return text, chunks

    return StructuredTool.from_function(
        search_knowledge_base, response_format="content_and_artifact", parse_docstring=True
    )
