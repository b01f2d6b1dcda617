#!/usr/bin/env bash
# GPU-machine side: Frontdesk over real vLLM as REPLICAS app processes (one SQLite file or one
# PostgreSQL, one `chroma run` server), then a load comparison of raw vLLM vs the app. The GPU kit's run_app_over_vllm.sh
# (../shared/gpu) with the app started as replicas and bench/gpu/load.py as the load.
# Run from the project root in the last remote call, once every part lies in /tmp/p/:
#   bash bench/gpu/run_replicas.sh SHA16 [REPLICAS=12] [DB=sqlite|postgres] [NAME=VALUE ...]
# SHA16   the sha256 prefix build_bundle.sh printed (default: bundle.sha beside this script).
# NAME=VALUE  exported before anything starts: the app's FRONTDESK_* settings or the knobs below,
#         e.g.  FRONTDESK_RETRIEVAL_K=2  LOAD_CONC=1,16  VLLM_OPTS=  DB=postgres  (the same names
#         work as env). The app's extra wheels (bench/gpu/extra_wheels.sh) are read from WHL_DIR:
#         carry .whl/ with the last call, or (when the last part and .whl/ together pass the 64 MiB of
#         one call) in a call of its own that copies it to /tmp/whl, and pass WHL_DIR=/tmp/whl.
# Steps: reassemble + check the bundle, pip install the wheels into /tmp/site beside the machine's
# torch, start vLLM 0.26 (SmolLM2-135M bf16, hermes tool calling) and the app (openai backend) side by
# side, wait for both, run load.py. Every step is time-capped inside BUDGET_S; ~6 min in all.
# Results in $OUT: run.txt env.txt vllm.log chroma.log app0.log … load.txt load.json.
set -u -o pipefail
export PYTHONUNBUFFERED=1
KIT=${KIT:-$(ls -d "$(pwd)"/.wx*/ 2>/dev/null | tail -1)}; KIT=${KIT%/}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(pwd)
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"

EXPECT_SHA=
if [[ ${1:-} =~ ^[0-9a-f]{8,64}$ ]]; then EXPECT_SHA=$1; shift; fi
for a in "$@"; do
  [[ $a =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || { echo "not NAME=VALUE: $a" >&2; exit 2; }
  export "$a"
done
[ -n "$EXPECT_SHA" ] || EXPECT_SHA=$(cat "$KIT/bundle.sha" 2>/dev/null || true)

# -- knobs ------------------------------------------------------------------------------------------
BUDGET_S=${BUDGET_S:-540}          # whole script; keep under the remote call's limit (600 s)
PARTS_DIR=${PARTS_DIR:-/tmp/p}
LOAD_CONC=${LOAD_CONC:-1,16,64,256}
MAX_TOKENS=${MAX_TOKENS:-128}
PHASE_CAP=${PHASE_CAP:-30}         # seconds per (target, concurrency) phase
TOTAL_CAP=${TOTAL_CAP:-240}        # seconds for all load phases
REPLICAS=${REPLICAS:-12}           # app processes, on ports APP_PORT, APP_PORT+1, …
APP_THREADS=${APP_THREADS:-1}      # OMP_NUM_THREADS per app process: the embedder's threads per call
CHROMA_PORT=${CHROMA_PORT:-8100}
GPU_UTIL=${GPU_UTIL:-0.3}
MAX_MODEL_LEN=${MAX_MODEL_LEN:-4096}
VLLM_OPTS=${VLLM_OPTS---enforce-eager -O0}   # set empty for CUDA graphs: higher raw throughput, ~1 min longer start
VLLM_PORT=${VLLM_PORT:-8000}
APP_PORT=${APP_PORT:-7860}
# Count tokens in-process with the served model's tokenizer.json (the README's advice for production)
# rather than by an HTTP call to vLLM's /tokenize for every stored message; 0 for the HTTP calls.
LOCAL_TOKENIZER=${LOCAL_TOKENIZER:-1}
# The replicas' database: `sqlite` (one file) or `postgres` (a PostgreSQL server from the pgserver
# wheel in .whl/, on a unix socket in PG_DIR; each replica's pool 3 + 4, 84 of its 100 connections).
DB=${DB:-sqlite}
PG_DIR=${PG_DIR:-/tmp/fdpg}
WHL_DIR=${WHL_DIR:-$ROOT/.whl}
# Sample replica 0's threads with py-spy (carried in .whl/) for the whole load, waiting included:
# $OUT/profile0.txt, one collapsed stack a line with its count (bench/gpu/profile_summary.py reads it).
PROFILE=${PROFILE:-1}
SERVED=smollm2

# -- the app's environment (settings.py); the first three are required for the openai backend ----------
export FRONTDESK_LLM_BACKEND=${FRONTDESK_LLM_BACKEND:-openai}
export FRONTDESK_LLM_BASE_URL=${FRONTDESK_LLM_BASE_URL:-http://127.0.0.1:$VLLM_PORT/v1}
export FRONTDESK_LLM_MODEL=${FRONTDESK_LLM_MODEL:-$SERVED}          # = vLLM --served-model-name
export FRONTDESK_LLM_API_KEY=${FRONTDESK_LLM_API_KEY:-EMPTY}
export FRONTDESK_DATA_DIR=${FRONTDESK_DATA_DIR:-/tmp/fd}             # fresh each run, outside the checkout
export FRONTDESK_CONTEXT_TOKENS=${FRONTDESK_CONTEXT_TOKENS:-$MAX_MODEL_LEN}  # <= vLLM --max-model-len
export FRONTDESK_ANSWER_TOKENS=${FRONTDESK_ANSWER_TOKENS:-$MAX_TOKENS}       # < CONTEXT_TOKENS / 2
export FRONTDESK_TEMPERATURE=${FRONTDESK_TEMPERATURE:-0}
# Every load request comes from one loopback address: the per-address limit (300/minute) is lifted.
export FRONTDESK_RATE_LIMIT_PER_IP=${FRONTDESK_RATE_LIMIT_PER_IP:-1000000/minute}
export FRONTDESK_ADMIN_PASSWORD=${FRONTDESK_ADMIN_PASSWORD:-$(head -c 9 /dev/urandom | od -An -tx1 | tr -d ' \n')}
# No network there: everything offline, no telemetry.
export PYTHONPATH=/tmp/site PATH=/tmp/site/bin:$PATH VLLM_NO_USAGE_STATS=1 DO_NOT_TRACK=1 HF_HUB_OFFLINE=1 \
  TRANSFORMERS_OFFLINE=1 GRADIO_ANALYTICS_ENABLED=False ANONYMIZED_TELEMETRY=False

T0=$(date +%s)
el() { echo "[$(( $(date +%s) - T0 ))s] $*"; }
left() { echo $(( BUDGET_S - ($(date +%s) - T0) )); }
cap() { local l; l=$(left); [ "$1" -lt "$l" ] && echo "$1" || echo $(( l > 5 ? l : 5 )); }  # min(step cap, time left)
PIDS=/tmp/fdkit.pids
stop_pg() {  # pg_ctl starts PostgreSQL on its own, outside this script's process groups
  pkill -f "bin/postgres -D $PG_DIR" 2>/dev/null; sleep 1; pkill -KILL -f "bin/postgres -D $PG_DIR" 2>/dev/null
  return 0
}
stop_all() {  # the process groups this script started (setsid: pid = group id)
  [ "$DB" = postgres ] && stop_pg
  [ -f "$PIDS" ] || return 0
  for p in $(cat "$PIDS"); do kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p" 2>/dev/null; done
  sleep 2
  for p in $(cat "$PIDS"); do kill -KILL -- "-$p" 2>/dev/null; done
  rm -f "$PIDS"
}

main() {
  trap stop_all EXIT
  [ -f "$ROOT/app.py" ] && [ -f "$ROOT/settings.py" ] || { el "run from the project root (no app.py in $ROOT)"; return 2; }
  [ -n "$EXPECT_SHA" ] || { el "usage: $0 SHA16 [NAME=VALUE ...] (no sha given, no bundle.sha beside)"; return 2; }
  stop_all   # leftovers of an earlier run on the same warm machine
  rm -rf /tmp/b /tmp/site /tmp/bundle.tar
  case $FRONTDESK_DATA_DIR in /tmp/?*) rm -rf "$FRONTDESK_DATA_DIR";; esac   # a fresh database each run

  # -- 1. reassemble, check, unpack, install ------------------------------------------------------
  ls -l "$PARTS_DIR"/ 2>&1 | tail -n +2 | awk '{print "  " $5, $9}'
  el "parts: $(ls "$PARTS_DIR"/part* 2>/dev/null | wc -l), $(du -cm "$PARTS_DIR"/part* 2>/dev/null | tail -1 | cut -f1) MB"
  timeout "$(cap 90)" cat "$PARTS_DIR"/part* > /tmp/bundle.tar || { el "cat failed"; return 1; }
  SHA=$(timeout "$(cap 60)" sha256sum /tmp/bundle.tar | cut -c1-${#EXPECT_SHA})
  [ "$SHA" = "$EXPECT_SHA" ] || { el "bundle sha $SHA != expected $EXPECT_SHA: a part is missing or stale (the machine went back between calls?)"; return 1; }
  mkdir -p /tmp/b && timeout "$(cap 120)" tar -xf /tmp/bundle.tar -C /tmp/b || { el "untar failed"; return 1; }
  rm -f /tmp/bundle.tar
  M=/tmp/b/model/hf
  if [ -f $M/model.safetensors.gz ]; then
    timeout "$(cap 90)" gzip -d $M/model.safetensors.gz || { el "model gunzip failed"; return 1; }
  fi
  el "unpacked: $(ls /tmp/b/wheels | wc -l) wheels, model $(du -sm $M | cut -f1) MB"
  if [ "$LOCAL_TOKENIZER" = 1 ] && [ -z "${FRONTDESK_LLM_TOKENIZER:-}" ]; then export FRONTDESK_LLM_TOKENIZER=$M; fi
  el "tokens counted by ${FRONTDESK_LLM_TOKENIZER:-HTTP calls to /tokenize}"
  timeout "$(cap 240)" python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site \
    /tmp/b/wheels/*.whl 2>&1 | grep -v -i 'warning' | tail -5
  local rc=${PIPESTATUS[0]}
  el "pip install done (rc $rc)"
  [ "$rc" = 0 ] || return 1
  # The app's own requirements that neither the bundle nor the machine's image hold, carried as .whl/
  # (see bench/README.md, "serve_load over real vLLM").
  if ls "$WHL_DIR"/*.whl >/dev/null 2>&1; then
    timeout "$(cap 60)" python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site \
      "$WHL_DIR"/*.whl 2>&1 | grep -v -i 'warning' | tail -3
    el "extra wheels: $(ls "$WHL_DIR"/*.whl | wc -l)"
    # pip --target skips a bin/ that exists (the bundle's), so py-spy's binary gets a folder of its own.
    if ls "$WHL_DIR"/py_spy-*.whl >/dev/null 2>&1; then
      rm -rf /tmp/tools && python3 -m pip install -q --no-index --no-deps --target /tmp/tools "$WHL_DIR"/py_spy-*.whl \
        2>&1 | grep -v -i 'warning' | tail -2
      export PATH=/tmp/tools/bin:$PATH
    fi
  fi

  # -- 2. vLLM first (the slow one), the app beside it: it needs vLLM only when a turn runs -----------
  # shellcheck disable=SC2086
  setsid timeout "$(cap 600)" python3 -m vllm.entrypoints.openai.api_server \
    --model $M --served-model-name $SERVED --max-model-len "$MAX_MODEL_LEN" --gpu-memory-utilization "$GPU_UTIL" \
    --enable-auto-tool-choice --tool-call-parser hermes --chat-template "$KIT/hermes_tools.jinja" \
    $VLLM_OPTS --disable-uvicorn-access-log --host 127.0.0.1 --port "$VLLM_PORT" \
    > "$OUT/vllm.log" 2>&1 < /dev/null &
  local vpid=$!; echo $vpid >> "$PIDS"
  # One Chroma server for every replica (an embedded store belongs to one process).
  mkdir -p "$FRONTDESK_DATA_DIR"
  TRACES=$FRONTDESK_DATA_DIR/frontdesk.db
  if [ "$DB" = postgres ]; then
    stop_pg; rm -rf "$PG_DIR"
    timeout "$(cap 120)" python3 -c "import pgserver, sys; pgserver.get_server(sys.argv[1], cleanup_mode=None)" \
      "$PG_DIR" 2>&1 | grep -v -i warn | tail -3
    export FRONTDESK_DATABASE_URL="postgresql+psycopg://postgres@/postgres?host=$PG_DIR"
    export FRONTDESK_DB_POOL_SIZE=${FRONTDESK_DB_POOL_SIZE:-3} FRONTDESK_DB_MAX_OVERFLOW=${FRONTDESK_DB_MAX_OVERFLOW:-4}
    TRACES="postgresql://postgres@/postgres?host=$PG_DIR"
    el "postgresql from pgserver in $PG_DIR (pool $FRONTDESK_DB_POOL_SIZE + $FRONTDESK_DB_MAX_OVERFLOW per replica)"
  fi
  setsid timeout "$(cap 600)" chroma run --path "$FRONTDESK_DATA_DIR/chroma-server" --host 127.0.0.1 \
    --port "$CHROMA_PORT" > "$OUT/chroma.log" 2>&1 < /dev/null &
  echo $! >> "$PIDS"
  export FRONTDESK_CHROMA_URL=http://127.0.0.1:$CHROMA_PORT
  # The first replica migrates the database and seeds the knowledge base; the others start once it is up.
  start_app() {  # $1: replica number
    OMP_NUM_THREADS=$APP_THREADS setsid timeout "$(cap 600)" python3 app.py --host 127.0.0.1 \
      --port $(( APP_PORT + $1 )) > "$OUT/app$1.log" 2>&1 < /dev/null &
    echo $! >> "$PIDS"; APIDS[$1]=$!
  }
  APIDS=()
  start_app 0
  el "vllm (pid $vpid, ${VLLM_OPTS:-cuda graphs}), chroma and app replica 0 (pid ${APIDS[0]}) started"

  # Versions in use, and every carried wheel's requirements against what is importable.
  timeout "$(cap 60)" python3 - > "$OUT/env.txt" 2>&1 <<'EOF'
import importlib.metadata as md, re
from packaging.requirements import Requirement
names = ["torch", "vllm", "transformers", "sentence-transformers", "onnxruntime", "onnx", "huggingface-hub", "numpy", "numba", "protobuf",
         "fastapi", "starlette", "pydantic", "httpx", "anyio", "gradio", "chromadb", "langchain-core",
         "langchain-openai", "openai", "sqlalchemy", "uvicorn", "tokenizers", "flashinfer-python"]
for n in names:
    try:
        d = md.distribution(n); print(f"{n}=={d.version}  {str(d.locate_file(''))[:40]}")
    except md.PackageNotFoundError:
        print(f"{n}: absent")
norm = lambda s: re.sub(r"[-_.]+", "-", s.lower())
seen = {}
for d in md.distributions():
    seen.setdefault(norm(d.metadata["Name"]), d.version)  # first on sys.path wins, as for imports
bad = 0
for d in md.distributions(path=["/tmp/site"]):
    for r in d.requires or []:
        req = Requirement(r)
        if req.marker and not req.marker.evaluate({"extra": ""}):
            continue
        have = seen.get(norm(req.name))
        if have is None or (req.specifier and not req.specifier.contains(have, prereleases=True)):
            bad += 1
            if bad <= 40:
                print(f"UNMET {d.metadata['Name']} needs {r}; have {have}")
print(f"requirement check: {bad} unmet (18 on 2026-11-26, all harmless: the dropped optional vLLM kernels,"
      " numba 0.68 for ==0.65, mistral-common's numpy cap, kubernetes' floors)")
EOF
  grep -v '^UNMET' "$OUT/env.txt"

  local i
  wait_app() {  # $1: replica number
    local port=$(( APP_PORT + $1 ))
    for i in $(seq 1 "$(( $(cap 180) / 2 ))"); do
      curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
      kill -0 "${APIDS[$1]}" 2>/dev/null || { el "app $1 died"; tail -40 "$OUT/app$1.log"; return 1; }
      sleep 2
    done
    curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null || { el "app $1 not healthy"; tail -40 "$OUT/app$1.log"; return 1; }
  }
  wait_app 0 || return 1
  local r urls="http://127.0.0.1:$APP_PORT"
  for r in $(seq 1 $(( REPLICAS - 1 ))); do start_app "$r"; urls="$urls,http://127.0.0.1:$(( APP_PORT + r ))"; done
  for r in $(seq 1 $(( REPLICAS - 1 ))); do wait_app "$r" || return 1; done
  el "$REPLICAS app replica(s) healthy"
  curl -fsS "http://127.0.0.1:$APP_PORT/healthz"; echo
  # The replicas start while vLLM loads (they need it only when a turn runs).
  for i in $(seq 1 "$(( $(cap 360) / 2 ))"); do
    curl -fsS "http://127.0.0.1:$VLLM_PORT/health" >/dev/null 2>&1 && break
    kill -0 "$vpid" 2>/dev/null || { el "vllm died"; tail -40 "$OUT/vllm.log"; return 1; }
    sleep 2
  done
  curl -fsS "http://127.0.0.1:$VLLM_PORT/health" >/dev/null 2>&1 || { el "vllm not healthy"; tail -40 "$OUT/vllm.log"; return 1; }
  el "vllm healthy"

  # -- 3. load: demo turns, then raw vLLM vs /api/v1/chat at each level ------------------------------
  local total=$(( $(left) - 45 )); [ "$total" -lt "$TOTAL_CAP" ] || total=$TOTAL_CAP
  [ "$total" -gt 20 ] || { el "no time left for the load ($(left) s)"; return 1; }
  if [ "$PROFILE" = 1 ] && command -v py-spy >/dev/null; then
    timeout "$(( total + 40 ))" py-spy record --pid "${APIDS[0]}" --idle --threads --nonblocking --rate 50 \
      --format raw --duration "$(( total + 30 ))" --output "$OUT/profile0.txt" > "$OUT/py-spy.log" 2>&1 &
    el "py-spy sampling replica 0 (pid ${APIDS[0]})"
  fi
  # shellcheck disable=SC2086
  timeout "$(( total + 35 ))" python3 "$HERE/load.py" --raw "http://127.0.0.1:$VLLM_PORT/v1" \
    --app "$urls" --model $SERVED --conc "$LOAD_CONC" --max-tokens "$MAX_TOKENS" \
    --phase-cap "$PHASE_CAP" --total-cap "$total" --db "$TRACES" \
    --json "$OUT/load.json" 2>&1 | tee "$OUT/load.txt"
  rc=${PIPESTATUS[0]}
  el "load done (rc $rc)"
  if [ "$PROFILE" = 1 ] && [ -f "$OUT/py-spy.log" ]; then
    pkill -INT -f "py-spy record" 2>/dev/null; sleep 2
    tail -3 "$OUT/py-spy.log"; ls -l "$OUT"/profile0.txt 2>&1 | awk '{print "  " $5, $9}'
    python3 "$HERE/profile_summary.py" "$OUT/profile0.txt" 2>&1 | head -150
  fi
  echo "== CPU time of each app replica, vLLM and chroma (ps: pid, cpu seconds, rss MB, command)"
  ps -eo pid,times,rss,args --sort=-times | grep -E "app.py|vllm|chroma" | grep -v -E "timeout|grep" \
    | awk '{printf "  %s %ss %dMB %s %s %s\n", $1, $2, $3/1024, $4, $5, $6}' | head -12
  echo "== errors in the logs (count, line)"
  cat "$OUT"/app*.log | grep -E 'ERROR|Traceback|Exception' | sort | uniq -c | sort -rn | head -8
  grep -E 'ERROR|Traceback' "$OUT/vllm.log" | head -5
  nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv,noheader 2>&1 | head -2
  el "end"
  return "$rc"
}

main 2>&1 | tee "$OUT/run.txt"
exit "${PIPESTATUS[0]}"
