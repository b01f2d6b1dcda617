"""`python -m tests.utils.llama_server ARGS`: llama_cpp.server with the model loaded as the app loads
it (llm.llamacpp.extra_buffer_types_off: on an AMX CPU the default load crashes on the first decode)."""

from __future__ import annotations

import runpy

from llm.llamacpp import extra_buffer_types_off

if __name__ == "__main__":
    with extra_buffer_types_off():
        runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
