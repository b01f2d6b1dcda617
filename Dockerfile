# Frontdesk app image (CPU). The LLM runs in the vllm service; embeddings run in-process on CPU.
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends build-essential cmake && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt .
# torch first from the CPU index, so the pinned torch==2.13.0 is the CPU build, not CUDA.
RUN python -m venv .venv && .venv/bin/pip install --no-cache-dir \
      --index-url https://download.pytorch.org/whl/cpu torch==2.13.0 \
 && .venv/bin/pip install --no-cache-dir -r requirements.txt
COPY . .
ENV HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 ANONYMIZED_TELEMETRY=False FRONTDESK_DATA_DIR=/data
# The embedding model's ONNX export (knowledge/onnx_export.py), made now rather than at each first start.
RUN .venv/bin/python -c "from knowledge.embeddings import LocalEmbedder; LocalEmbedder()"
EXPOSE 7860
CMD [".venv/bin/python", "app.py", "--host", "0.0.0.0", "--port", "7860"]
