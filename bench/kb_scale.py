"""Knowledge-base scale: ingestion throughput and query latency at 10k (and 100k) chunks.

Compares embedded Chroma (PersistentClient, the default) with a `chroma run` server
(FRONTDESK_CHROMA_URL), both through KnowledgeBase (KnowledgeBase.ingest and KnowledgeBase.search,
so loading, splitting, the SQL document rows and Chroma's batched upserts are all included).

    HF_HUB_OFFLINE=1 .venv/bin/python bench/kb_scale.py                       # 10k chunks, ~2.5 min
    HF_HUB_OFFLINE=1 .venv/bin/python bench/kb_scale.py --sizes 10000,100000  # ~15 min on 2 cores

The corpus is generated: help-center-like Markdown articles (sections of templated sentences about
products, shipping, returns, payments…, with model numbers and order numbers for a realistic vocabulary).

Embedding is measured on its own: all-MiniLM-L6-v2 on the CPU over a sample of chunks (default
2,000). Ingestion then runs with precomputed vectors, so that 100k chunks do not take an hour of
embedding: each chunk gets a vector derived from that sample (one of the real MiniLM vectors plus
Gaussian noise, cosine ≈ 0.9 to it), which keeps the clustered shape of real embeddings for the HNSW
index. Queries are embedded for real, so KnowledgeBase.search latency includes the query embedding;
"chroma query" is the collection query alone with a precomputed query vector. Sizes are reached
incrementally (the 100k store is the 10k store plus 90k more chunks), and each segment's ingestion
throughput is reported.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import numpy as np
from _common import machine, make_kb, percentile, quiet, table

PRODUCTS = [
    "kettle", "blender", "toaster", "stand mixer", "coffee grinder", "espresso machine", "dutch oven",
    "frying pan", "saucepan set", "chef's knife", "cutting board", "duvet cover", "sheet set", "pillow",
    "bath towel", "area rug", "table lamp", "floor lamp", "bookshelf", "side table", "desk chair",
    "bluetooth speaker", "air purifier", "humidifier", "space heater", "vacuum", "rice cooker",
    "slow cooker", "food processor", "dinner plates", "wine glasses", "mug set", "throw blanket",
    "shower curtain", "storage bins", "candle", "picture frame", "wall clock", "doormat", "planter",
]  # fmt: skip
COLOURS = ["sage", "charcoal", "ivory", "navy", "terracotta", "oat", "slate blue", "blush", "forest green"]
CARRIERS = ["UPS", "FedEx", "USPS", "Canada Post", "Purolator", "DHL"]
REGIONS = [
    "California", "Texas", "New York", "Florida", "Washington", "Illinois", "Ontario", "Quebec",
    "British Columbia", "Alberta", "Alaska", "Hawaii", "Puerto Rico", "Oregon", "Colorado", "Nova Scotia",
]  # fmt: skip
PAYMENTS = ["Visa", "Mastercard", "American Express", "Discover", "PayPal", "Apple Pay", "Google Pay",
            "Afterpay", "a gift card", "store credit"]  # fmt: skip
TOPICS = [
    ("Shipping", ["Delivery times", "Carriers", "Shipping costs", "Oversized items", "Remote areas"]),
    (
        "Returns",
        ["Return window", "Items we can't take back", "Return labels", "Drop-off points", "Inspection"],
    ),
    ("Refunds", ["When refunds are issued", "Refund methods", "Partial refunds", "Missing refunds"]),
    ("Warranty", ["What is covered", "What is not covered", "Making a claim", "Serial numbers", "Repairs"]),
    ("Orders", ["Changing an order", "Cancelling", "Order status", "Split shipments", "Backorders"]),
    ("Payments", ["Accepted methods", "Declined cards", "Installments", "Pre-authorisations", "Sales tax"]),
    ("Care", ["Cleaning", "Storage", "First use", "Troubleshooting", "Replacement parts"]),
    ("Account", ["Signing in", "Passwords", "Email preferences", "Saved addresses", "Closing an account"]),
]
SENTENCES = [
    "Most orders of the {p} ship within {n} business days from our {w} warehouse.",
    "{c} delivers to {r} in {n}–{m} business days once the parcel leaves the warehouse.",
    "If your {p} arrives damaged, send us a photo within {n} days and we'll ship a replacement at no cost.",
    "The {col} {p} (model NW-{sku}) is covered for {n} years against defects in materials and workmanship.",
    "You can return an unused {p} within {d} days of delivery for a full refund to {pay}.",
    "Refunds to {pay} appear {n}–{m} business days after we issue them.",
    "Orders over ${amt} ship free to {r}; below that, standard shipping costs ${fee}.",
    "Oversized items such as the {p} carry a ${fee} delivery surcharge to {r}.",
    "To start a claim, have your order number (NW{order}) and the serial number from the base of the {p} ready.",
    "We can't accept returns of a {p} that has been engraved, washed or used with food.",
    "Your card may be declined if the billing address doesn't match the one your bank has on file.",
    "Installments through Afterpay are available on orders between ${amt} and ${big}.",
    "Hand-wash the {col} {p} in warm water and dry it right away to keep the finish.",
    "If tracking hasn't updated for {n} days, contact {c} with tracking number 1Z{order} first, then us.",
    "Changes to an order are possible until its status shows Packed, usually about {n} hours after checkout.",
    "Replacement parts for the {p} (model NW-{sku}) can be ordered from the Care section of your account.",
    "Gift cards never expire and can be combined with one promo code per order.",
    "Customers in {r} may pay duties on imports; our {c} shipments include them in the price at checkout.",
    "Store credit is issued as soon as {c} scans your return, without waiting for inspection.",
    "Insider members earn {n} points per dollar and can redeem 500 points for $5 off a {p}.",
]
QUESTIONS = [
    "how long does shipping to {r} take",
    "can i return my {p} after {d} days",
    "my {p} arrived broken what do i do",
    "is the {col} {p} covered by warranty",
    "when will my refund to {pay} show up",
    "how much is shipping for a {p} to {r}",
    "where is the serial number on the {p}",
    "can i pay for the {p} in installments",
    "my card keeps getting declined",
    "how do i clean the {p}",
    "tracking for my {p} hasn't updated in {n} days",
    "can i change my order, it says packed",
    "do you ship to {r} with {c}",
    "replacement parts for model NW-{sku}",
    "do gift cards expire",
]


def _fill(rng: random.Random, template: str) -> str:
    n = rng.randint(1, 14)
    return template.format(
        p=rng.choice(PRODUCTS),
        col=rng.choice(COLOURS),
        c=rng.choice(CARRIERS),
        r=rng.choice(REGIONS),
        pay=rng.choice(PAYMENTS),
        w=rng.choice(["Portland", "Reno", "Columbus", "Toronto"]),
        n=n,
        m=n + rng.randint(1, 6),
        d=rng.choice([14, 30, 45, 60, 90]),
        amt=rng.choice([35, 49, 75, 99, 150]),
        big=rng.choice([500, 1000, 2000]),
        fee=rng.choice(["5.95", "9.95", "14.95", "29.00", "49.00"]),
        sku=rng.randint(1000, 9999),
        order=rng.randint(10_000_000, 99_999_999),
    )


def article(rng: random.Random, number: int) -> tuple[str, str]:
    """One Markdown help-center article (a filename and its text): a title and 6–9 sections."""
    topic, sections = rng.choice(TOPICS)
    product = rng.choice(PRODUCTS)
    title = f"{topic}: {product.title()} ({rng.choice(COLOURS)}) — article {number}"
    parts = [f"# {title}", "", _fill(rng, rng.choice(SENTENCES)), ""]
    for s in range(rng.randint(6, 9)):
        parts += [f"## {rng.choice(sections)} ({s + 1})", ""]
        for _ in range(rng.randint(1, 2)):
            parts += [" ".join(_fill(rng, rng.choice(SENTENCES)) for _ in range(rng.randint(3, 7))), ""]
    return f"kb-{number:07d}-{topic.lower()}-{product.replace(' ', '-')}.md", "\n".join(parts)


def corpus(seed: int) -> Iterator[tuple[str, str]]:
    rng = random.Random(seed)
    for number in range(1, 10**7):
        yield article(rng, number)


def questions(seed: int, n: int) -> list[str]:
    rng = random.Random(seed + 1)
    return [_fill(rng, rng.choice(QUESTIONS)) for _ in range(n)]


class PoolEmbedder:
    """Real MiniLM query embeddings; document vectors derived from a pool of real MiniLM vectors."""

    def __init__(self, real, pool: np.ndarray, *, noise: float = 0.5) -> None:
        self._real = real
        self._pool = pool.astype(np.float32)
        self._sigma = noise / np.sqrt(pool.shape[1])  # noise norm ≈ `noise` → cosine ≈ 0.9 to the pool vector

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        out = np.empty((len(texts), self._pool.shape[1]), dtype=np.float32)
        for i, text in enumerate(texts):
            h = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
            rng = np.random.default_rng(h)
            v = self._pool[h % len(self._pool)] + rng.normal(0.0, self._sigma, self._pool.shape[1])
            out[i] = v / np.linalg.norm(v)
        return out.tolist()

    def embed_query(self, text: str) -> list[float]:
        return self._real.embed_query(text)


def sample_chunks(seed: int, n: int) -> list[str]:
    """The texts KnowledgeBase would embed (heading + chunk) for the first chunks of the corpus."""
    from knowledge.loaders import load_document
    from knowledge.splitting import split_text
    from knowledge.store import KnowledgeBase

    texts: list[str] = []
    for filename, text in corpus(seed + 7):  # another part of the corpus than the one ingested
        loaded = load_document(filename, text.encode(), max_bytes=10**7)
        texts += [KnowledgeBase._embedding_text(loaded, c) for c in split_text(loaded.text)]
        if len(texts) >= n:
            return texts[:n]
    return texts


def measure_queries(kb, queries: list[str], qvecs: list[list[float]], *, lexical_queries: int) -> dict:
    res: dict = {}
    collection = kb._collection
    # Dense through the knowledge base (query embedding included), then the collection alone.
    for name, call in [
        ("dense", lambda i: kb.search(queries[i], k=4, mode="dense")),
        (
            "chroma",
            lambda i: collection.query(
                query_embeddings=[qvecs[i]], n_results=4, include=["documents", "metadatas", "distances"]
            ),
        ),
    ]:
        call(0)  # warm-up
        times = []
        for i in range(len(queries)):
            t = time.perf_counter()
            call(i)
            times.append((time.perf_counter() - t) * 1000)
        res[name] = times
    if lexical_queries:
        kb._bm25 = None
        t = time.perf_counter()
        kb.search(queries[0], k=4, mode="bm25")  # the first lexical query builds the BM25 index
        res["bm25_build_s"] = time.perf_counter() - t
        for mode in ("bm25", "hybrid"):
            times = []
            for q in queries[:lexical_queries]:
                t = time.perf_counter()
                kb.search(q, k=4, mode=mode)
                times.append((time.perf_counter() - t) * 1000)
            res[mode] = times
    return res


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--sizes", default="10000", help="comma-separated chunk counts, reached incrementally"
    )
    parser.add_argument("--stores", default="embedded,server", help="embedded, server or both")
    parser.add_argument(
        "--embed-sample", type=int, default=2000, help="chunks embedded for real (MiniLM, CPU)"
    )
    parser.add_argument("--queries", type=int, default=200, help="dense queries per measurement")
    parser.add_argument(
        "--lexical-queries", type=int, default=50, help="bm25/hybrid queries per measurement (0 to skip)"
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    quiet()

    from knowledge.embeddings import LocalEmbedder
    from knowledge.store import make_chroma_client
    from settings import Settings
    from tests.utils.server import running_chroma

    sizes = sorted(int(s) for s in args.sizes.split(","))
    stores = [s.strip() for s in args.stores.split(",")]
    print(f"# KB scale benchmark — {machine()}")

    # 1. Embedding throughput, on real chunk texts; the vectors become the pool for ingestion.
    real = LocalEmbedder()
    sample = sample_chunks(args.seed, args.embed_sample)
    real.embed_documents(sample[:64])  # warm-up
    t = time.perf_counter()
    pool = np.asarray(real.embed_documents(sample), dtype=np.float32)
    embed_s = time.perf_counter() - t
    queries = questions(args.seed, args.queries)
    single = []
    for q in queries[:100]:
        t = time.perf_counter()
        real.embed_query(q)
        single.append((time.perf_counter() - t) * 1000)
    qvecs = real.embed_documents(queries)
    rate = len(sample) / embed_s
    mean_chars = sum(map(len, sample)) / len(sample)
    print()
    print(
        table(
            ["embedding (all-MiniLM-L6-v2, CPU, batch 64)", "value"],
            [
                ["chunks embedded", len(sample)],
                ["mean chunk length (chars, heading included)", round(mean_chars)],
                ["throughput (chunks/s)", round(rate, 1)],
                ["query embedding p50 (ms)", round(percentile(single, 50), 1)],
                ["query embedding p95 (ms)", round(percentile(single, 95), 1)],
            ]
            + [[f"time to embed {n:,} chunks (min, extrapolated)", round(n / rate / 60, 1)] for n in sizes],
        ),
        flush=True,
    )

    embedder = PoolEmbedder(real, pool)
    ingest_rows, query_rows = [], []
    for store in stores:
        with tempfile.TemporaryDirectory(prefix="frontdesk-bench-") as tmp, ExitStack() as stack:
            root = Path(tmp)
            if store == "server":
                (root / "chroma-server").mkdir()
                url = stack.enter_context(running_chroma(root / "chroma-server"))
                chroma = make_chroma_client(Settings(data_dir=root / "data", chroma_url=url))
            elif store == "embedded":
                chroma = None  # make_kb opens the PersistentClient under the data dir
            else:
                raise SystemExit(f"unknown store {store!r}")
            kb = make_kb(root / "data", embedder=embedder, chroma=chroma)
            docs = corpus(args.seed)
            total_chunks = total_docs = 0
            for size in sizes:
                seg_chunks = seg_docs = 0
                t = time.perf_counter()
                while total_chunks < size:
                    filename, text = next(docs)
                    result = kb.ingest(filename, text.encode())
                    total_chunks += result.chunks
                    seg_chunks += result.chunks
                    total_docs += 1
                    seg_docs += 1
                seg_s = time.perf_counter() - t
                count = kb.chunk_count()
                ingest_rows.append(
                    [
                        store,
                        f"{count - seg_chunks:,} → {count:,}",
                        seg_docs,
                        round(seg_chunks / seg_docs, 1),
                        round(seg_s, 1),
                        round(seg_docs / seg_s, 1),
                        round(seg_chunks / seg_s),
                        round(seg_chunks / seg_s * 60 / 1000, 1),
                    ]
                )
                print(f"  [{store}] ingested {count:,} chunks ({seg_s:.0f} s for this segment)", flush=True)
                res = measure_queries(kb, queries, qvecs, lexical_queries=args.lexical_queries)
                for name, label in [
                    ("dense", "KnowledgeBase.search dense (incl. query embedding)"),
                    ("chroma", "collection.query only (precomputed vector)"),
                    ("bm25", "KnowledgeBase.search bm25"),
                    ("hybrid", "KnowledgeBase.search hybrid"),
                ]:
                    if name not in res:
                        continue
                    times = res[name]
                    query_rows.append(
                        [
                            store,
                            f"{count:,}",
                            label,
                            len(times),
                            round(percentile(times, 50), 1),
                            round(percentile(times, 95), 1),
                        ]
                    )
                if "bm25_build_s" in res:
                    query_rows.append(
                        [store, f"{count:,}", "first bm25/hybrid query (builds the BM25 index)", 1,
                         round(res["bm25_build_s"] * 1000, 1), "-"]
                    )  # fmt: skip
    print()
    print(
        table(
            ["store", "chunks", "docs", "chunks/doc", "seconds", "docs/s", "chunks/s", "k chunks/min"],
            ingest_rows,
            title="Ingestion through KnowledgeBase.ingest with precomputed vectors (load, split, SQL, upsert)",
        )
    )
    print()
    print(
        table(
            ["store", "chunks", "query (k=4)", "n", "p50 ms", "p95 ms"],
            query_rows,
            title="Query latency",
        )
    )
    print(f"\n# finished: {machine()}")


if __name__ == "__main__":
    main()
