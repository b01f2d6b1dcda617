"""Chat models behind one LangChain interface: embedded llama.cpp or an OpenAI-compatible server (vLLM)."""

from llm.factory import BackendUnavailableError, ChatBackend, build_chat_backend, bundled_gguf_path

__all__ = ["BackendUnavailableError", "ChatBackend", "build_chat_backend", "bundled_gguf_path"]
