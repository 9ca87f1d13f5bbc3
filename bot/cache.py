"""The loaded, validated and indexed knowledge base, cached on disk so `helpbot ask` and the
bots start without parsing YAML or building the matcher's index.

One file per knowledge folder in `$HELPBOT_CACHE` (default `~/.cache/helpbot`, the folder the
semantic extra keeps its embeddings in): `index-<folder hash>-<key>.pickle`. The key is a hash
of every file in the knowledge folder (names and bytes), the helpbot version, the Python
version and the source of the modules that shape the index, so any edit to the guide or to the
code makes a new key and the old file is replaced. Deleting the folder is always safe.

A cache file is used only when all of this holds, else it is ignored and rebuilt:
- it is a regular file owned by the current user and not writable by group or others (POSIX),
  in a folder with the same properties;
- it starts with the format's magic bytes and a SHA-256 of the rest that matches, so a
  truncated or corrupted file is never unpickled;
- it unpickles to the knowledge base of the same key.

Trust assumption: the payload is a pickle, and unpickling runs code. The cache folder is the
user's own (like `~/.cache/pip`): whoever can write there can already run code as that user.
The ownership and permission checks above keep a file planted by another local user from being
loaded; the checksum only detects accidents, not tampering by the owner.

`HELPBOT_INDEX_CACHE=0` turns the cache off (always load and index from the YAML).
"""

from __future__ import annotations

import gc
import hashlib
import logging
import os
import pickle
import stat
import sys
from pathlib import Path

from bot import __version__
from bot.knowledge import Knowledge, default_path, load_knowledge
from bot.semantic import cache_dir

log = logging.getLogger(__name__)

FORMAT = 1
MAGIC = b"HELPBOT-INDEX\x00" + FORMAT.to_bytes(2, "big")
_DIGEST = 32
# The modules whose code decides what is cached: a change to any of them is a new key.
_SOURCES = (
    "cache.py",
    "knowledge.py",
    "language.py",
    "lexical.py",
    "matcher.py",
    "schema.py",
    "shapes.py",
    "signals.py",
    "step_names.py",
    "stopwords.py",
    "text.py",
    "thresholds.py",
    "walkthrough.py",
    "yamlfile.py",
)


def enabled() -> bool:
    return os.environ.get("HELPBOT_INDEX_CACHE", "").strip().lower() not in ("0", "off", "no")


def knowledge_key(root: Path) -> str:
    """A hash of everything the cached object depends on (see the module docstring)."""
    digest = hashlib.sha256()
    digest.update(f"{FORMAT}\0{__version__}\0{sys.version}\0".encode())
    here = Path(__file__).resolve().parent
    for name in _SOURCES:
        digest.update(name.encode() + b"\0" + (here / name).read_bytes())
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = file.relative_to(root).as_posix()
        if any(part.startswith(".") for part in relative.split("/")):
            continue
        data = file.read_bytes()
        digest.update(f"\0{relative}\0{len(data)}\0".encode() + data)
    return digest.hexdigest()


def cache_file(root: Path, key: str) -> Path:
    folder = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:16]
    return cache_dir() / f"index-{folder}-{key[:32]}.pickle"


def load_knowledge_cached(path: str | Path | None = None, apart: bool = False) -> Knowledge:
    """`load_knowledge(path)` with the matcher's index built, from the cache when it holds
    this exact knowledge base; otherwise loaded, indexed and written to the cache. Raises
    `KnowledgeError` like `load_knowledge` (a broken knowledge base is never cached).

    `apart` (the long-running bots): on a miss, a child process builds and writes the cache
    and this one reads it. Building leaves the heap fragmented: a bot that built its index
    held ~5 MB more for good than one that read it (83 against 78 MB after the flood bench),
    on every first start after an upgrade. Built here when the child cannot write the cache
    (or fails: the build here then reports the knowledge base's problems)."""
    root = Path(path) if path is not None else default_path()
    if not enabled() or not root.is_dir():
        return _build(root)
    try:
        key = knowledge_key(root)
    except OSError as error:  # an unreadable file: loading reports it with its name
        log.debug("index cache: cannot hash %s: %s", root, error)
        return _build(root)
    file = cache_file(root, key)
    cached = read(file, key)
    if cached is not None:
        return cached
    if apart and _writable(file.parent) and _build_in_child(root):
        cached = read(file, key)
        if cached is not None:
            return cached
    knowledge = _build(root)
    write(file, key, knowledge)
    return knowledge


def _writable(folder: Path) -> bool:
    """Whether the cache folder exists (made if need be) and this user may write in it: a
    child build that cannot write its result (a read-only home in a container) would cost
    every start ~1.5 s for nothing."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as error:
        log.info("index cache: cannot make %s: %s", folder, error)
        return False
    return os.access(folder, os.W_OK | os.X_OK)


def _build_in_child(root: Path) -> bool:
    """Runs `python -m bot.cache <root>` (build and write the cache); True if it did."""
    import subprocess

    command = [sys.executable, "-m", "bot.cache", str(root)]
    try:
        done = subprocess.run(command, capture_output=True, timeout=CHILD_SECONDS, check=False)
    except (OSError, subprocess.SubprocessError) as error:
        log.info("index cache: could not build it in a child process: %s", error)
        return False
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-1:]
        log.info("index cache: the child process did not write it: %s", " ".join(tail))
    return done.returncode == 0


CHILD_SECONDS = 300
"""How long the child process may take to build the index (a 10,000-entry guide: ~5 s)."""


def _build(root: Path) -> Knowledge:
    from bot.language import LanguageDetector
    from bot.matcher import Matcher
    from bot.text import normalize, stem
    from bot.walkthrough import FollowUps, Words

    # The text helpers' lru caches hand out shared string objects, and pickle writes a shared
    # object once: a build that starts from a warm cache (a second build in one process, once
    # the knowledge base outgrows the cache) pickled to other bytes than a cold one. Built from
    # cold caches, the same knowledge base always gives the same file.
    normalize.cache_clear()
    stem.cache_clear()
    knowledge = load_knowledge(root)
    Matcher(knowledge, semantic=False).keep_index()  # its Signals keep theirs too
    LanguageDetector(knowledge).keep_counts(knowledge)
    Words(knowledge)  # keeps its tables in knowledge.prepared, as the matcher's Signals do
    FollowUps(knowledge)
    return knowledge


def trusted(path: Path) -> bool:
    """Owned by this user and writable by nobody else (always true where there are no uids)."""
    if not hasattr(os, "getuid"):
        return True
    info = path.lstat()
    return info.st_uid == os.getuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def read(file: Path, key: str) -> Knowledge | None:
    """The cached knowledge base, or None when the file is missing, foreign, damaged, stale
    or of another version. Never raises."""
    try:
        if not file.is_file() or file.is_symlink():
            return None
        if not (trusted(file.parent) and trusted(file)):
            log.warning(
                "index cache: ignoring %s (not owned by this user, or writable by others)", file
            )
            return None
        data = file.read_bytes()
    except OSError as error:
        log.debug("index cache: cannot read %s: %s", file, error)
        return None
    head, digest, payload = (
        data[: len(MAGIC)],
        data[len(MAGIC) : len(MAGIC) + _DIGEST],
        data[len(MAGIC) + _DIGEST :],
    )
    if head != MAGIC or hashlib.sha256(payload).digest() != digest:
        log.info("index cache: %s is damaged or of another format; rebuilding", file)
        return None
    try:
        stored = _unpickle(payload)
    except Exception as error:  # a file from another version of a library, say
        log.info("index cache: cannot load %s (%s); rebuilding", file, error)
        return None
    if (
        not isinstance(stored, tuple)
        or len(stored) != 2
        or stored[0] != key
        or not isinstance(stored[1], Knowledge)
    ):
        log.info("index cache: %s holds something else; rebuilding", file)
        return None
    knowledge: Knowledge = stored[1]
    return knowledge


def _unpickle(payload: bytes) -> object:
    """`pickle.loads` with the cyclic garbage collector paused: the index is tens of thousands
    of small containers, each allocation counting towards a collection that finds nothing to
    free; paused, loading takes a third less time (start-up of `helpbot ask`)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return pickle.loads(payload)
    finally:
        if was_enabled:
            gc.enable()


def write(file: Path, key: str, knowledge: Knowledge) -> bool:
    """Write atomically (a temporary file renamed over the old one) and remove this folder's
    older cache files. A cache that cannot be written is only a slower start: never raises."""
    try:
        payload = pickle.dumps((key, knowledge), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as error:  # something in the knowledge base that cannot be pickled
        log.info("index cache: not cached (%s)", error)
        return False
    import tempfile  # only when writing: it imports shutil, bz2 and lzma (start-up time)

    try:
        file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(prefix=".index-", dir=file.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(MAGIC + hashlib.sha256(payload).digest() + payload)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temporary, file)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        prefix = file.name.rsplit("-", 1)[0] + "-"
        for old in file.parent.glob(f"{prefix}*.pickle"):
            if old != file:
                old.unlink(missing_ok=True)
    except OSError as error:
        log.info("index cache: cannot write %s: %s", file, error)
        return False
    return True


def main(argv: list[str]) -> int:
    """`python -m bot.cache <knowledge folder>`: build the index and write the cache (what
    `load_knowledge_cached(apart=True)` runs). Exit 0 if written."""
    if len(argv) != 1 or not enabled():
        return 2
    root = Path(argv[0])
    try:
        key = knowledge_key(root)
        knowledge = _build(root)
    except Exception as error:  # the parent builds again and reports it
        print(f"cannot build the index of {root}: {error}", file=sys.stderr)
        return 1
    return 0 if write(cache_file(root, key), key, knowledge) else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
