"""HTTP surface: the FastAPI REST API, the Gradio chat UI at `/` and the Gradio admin console at `/admin`."""
