"""The sources file: which publisher feeds each source kind, and where to fetch it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tankerwatch.errors import SourcesFileError

# Source kinds of DOMAIN §2 that this version of tankerwatch ingests, with the
# extra URL fields each may carry besides `url`.
SUPPORTED_KINDS: dict[str, tuple[str, ...]] = {
    "ofac_sdn_csv": ("alt_url", "comments_url"),
    "un_consolidated_xml": (),
    "registry_csv": (),
    "imagery_sightings_csv": (),
    "ais_nmea": (),
}

_SOURCE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


@dataclass(frozen=True)
class Source:
    """One named source of the sources file."""

    name: str
    kind: str
    url: str
    extra_urls: dict[str, str] = field(default_factory=dict)
    base_dir: Path = Path(".")
    options: dict[str, Any] = field(default_factory=dict)

    def urls(self) -> dict[str, str]:
        """Every URL to fetch for this source, keyed by role (`url`, `alt_url`, ...)."""
        return {"url": self.url, **self.extra_urls}


def load_sources(path: Path) -> list[Source]:
    """Read and check a sources file; a problem raises SourcesFileError naming the source."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise SourcesFileError(f"cannot read sources file {path}: {exc}") from exc
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SourcesFileError(f"sources file {path} is not valid YAML: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("sources"), dict):
        raise SourcesFileError(f"sources file {path} must have a top-level mapping 'sources: {{NAME: {{kind, url}}}}'")

    sources = []
    for name, spec in document["sources"].items():
        sources.append(_parse_source(str(name), spec, Path(path).resolve().parent))
    return sources


def _parse_source(name: str, spec: Any, base_dir: Path) -> Source:
    where = f"source '{name}'"
    if not _SOURCE_NAME.match(name):
        raise SourcesFileError(f"{where}: names are lower-case letters, digits and '_' (at most 64), starting with a letter")
    if not isinstance(spec, dict):
        raise SourcesFileError(f"{where}: expected a mapping with 'kind' and 'url'")
    kind = spec.get("kind")
    if kind not in SUPPORTED_KINDS:
        raise SourcesFileError(f"{where}: unknown kind {kind!r}; supported: {', '.join(sorted(SUPPORTED_KINDS))}")
    url = spec.get("url")
    if not isinstance(url, str) or not url.strip():
        raise SourcesFileError(f"{where}: 'url' is required")
    extra = {}
    for key in SUPPORTED_KINDS[kind]:
        if spec.get(key) is not None:
            if not isinstance(spec[key], str) or not spec[key].strip():
                raise SourcesFileError(f"{where}: '{key}' must be a URL or path")
            extra[key] = spec[key]
    options = {k: v for k, v in spec.items() if k not in {"kind", "url", *SUPPORTED_KINDS[kind]}}
    return Source(name=name, kind=kind, url=url, extra_urls=extra, base_dir=base_dir, options=options)
