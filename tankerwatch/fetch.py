"""One fetch layer for every source: http(s) through requests, local paths read directly; raw bytes landed by sha256."""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import unquote, urlparse

import requests

from tankerwatch.errors import FetchError

CONNECT_TIMEOUT_S = 10
READ_TIMEOUT_S = 60
MAX_BYTES = 2 * 1024**3
CHUNK = 1024 * 1024
USER_AGENT = "tankerwatch/0.1 (+https://github.com/tankerwatch)"


@dataclass(frozen=True)
class Snapshot:
    """One fetched copy of one URL of a source, as landed on disk."""

    source_name: str
    role: str
    url: str
    sha256: str
    bytes: int
    fetched_at: str
    path: str

    @property
    def snapshot_id(self) -> str:
        return self.sha256[:16]

    def to_dict(self) -> dict:
        return {**asdict(self), "snapshot_id": self.snapshot_id}


def fetch_to_landing(source_name: str, role: str, url: str, base_dir: Path, landing_dir: Path) -> Snapshot:
    """Fetch ``url`` and land its bytes under ``landing_dir/source_name/role/``, named by content hash."""
    target_dir = landing_dir / source_name / role
    target_dir.mkdir(parents=True, exist_ok=True)
    fetched_at = datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    suffix = _suffix(url)
    fd, tmp_name = tempfile.mkstemp(prefix=".landing-", dir=target_dir)
    try:
        with os.fdopen(fd, "wb") as sink:
            digest, size = _copy_into(url, base_dir, sink, where=f"source '{source_name}' ({role})")
            sink.flush()
            os.fsync(sink.fileno())
        if size == 0:
            raise FetchError(f"source '{source_name}' ({role}): {url} returned an empty body")
        final = target_dir / f"{digest[:16]}{suffix}"
        os.replace(tmp_name, final)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return Snapshot(source_name, role, url, digest, size, fetched_at, str(final))


def _copy_into(url: str, base_dir: Path, sink, where: str) -> tuple[str, int]:
    scheme = urlparse(url).scheme.lower()
    if scheme in ("http", "https"):
        return _download(url, sink, where)
    path = _local_path(url, base_dir)
    try:
        with path.open("rb") as source:
            return _hash_copy(iter(lambda: source.read(CHUNK), b""), sink, where)
    except FileNotFoundError as exc:
        raise FetchError(f"{where}: file not found: {path}") from exc
    except OSError as exc:
        raise FetchError(f"{where}: cannot read {path}: {exc}") from exc


def _local_path(url: str, base_dir: Path) -> Path:
    parsed = urlparse(url)
    if parsed.scheme == "file":
        return Path(unquote(parsed.path))
    if parsed.scheme and len(parsed.scheme) > 1:
        raise FetchError(f"unsupported URL scheme {parsed.scheme!r} in {url}: use http(s), file:// or a path")
    path = Path(url).expanduser()
    return path if path.is_absolute() else (base_dir / path)


def _download(url: str, sink, where: str) -> tuple[str, int]:
    try:
        with requests.get(
            url,
            stream=True,
            timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S),
            headers={"User-Agent": USER_AGENT},
        ) as response:
            if response.status_code != 200:
                raise FetchError(f"{where}: GET {url} answered HTTP {response.status_code}")
            digest, size = _hash_copy(response.iter_content(CHUNK), sink, where)
            expected = response.headers.get("Content-Length")
            if expected is not None and response.headers.get("Content-Encoding") is None and int(expected) != size:
                raise FetchError(f"{where}: GET {url} was truncated: {size} of {expected} bytes")
            return digest, size
    except requests.RequestException as exc:
        raise FetchError(f"{where}: GET {url} failed: {exc.__class__.__name__}: {exc}") from exc


def _hash_copy(chunks, sink, where: str) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > MAX_BYTES:
            raise FetchError(f"{where}: larger than the {MAX_BYTES} byte limit")
        digest.update(chunk)
        sink.write(chunk)
    return digest.hexdigest(), size


def _suffix(url: str) -> str:
    name = Path(urlparse(url).path).name
    suffix = "".join(Path(name).suffixes[-2:]).lower()
    return suffix if suffix and len(suffix) <= 12 and suffix.replace(".", "").isalnum() else ".bin"


