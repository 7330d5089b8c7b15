"""The sources file: which publisher feeds each source kind, where to fetch it, and how forgivingly."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tankerwatch.errors import SourcesFileError
from tankerwatch.settings import allowed_roots

GFW_API_BASE = "https://gateway.api.globalfishingwatch.org/v3/"


@dataclass(frozen=True)
class KindSpec:
    """What a source of one kind may say in the sources file."""

    extra_urls: tuple[str, ...] = ()
    url_required: bool = True
    default_url: str | None = None
    expect: str | None = None  # content the fetch layer checks the body against
    options: tuple[str, ...] = ()
    daily: bool = False  # its url may name one file a day with the {date} placeholder


KINDS: dict[str, KindSpec] = {
    "ofac_sdn_csv": KindSpec(extra_urls=("alt_url", "comments_url"), expect="csv"),
    "un_consolidated_xml": KindSpec(expect="xml"),
    "opensanctions_ftm": KindSpec(expect="jsonl"),
    "uk_sanctions_csv": KindSpec(expect="csv"),
    "registry_csv": KindSpec(expect="csv"),
    "imagery_sightings_csv": KindSpec(expect="csv", daily=True),
    "ais_nmea": KindSpec(expect="nmea", daily=True),
    "ais_dma_csv": KindSpec(expect="csv", daily=True),
    "gfw_vessels_api": KindSpec(
        url_required=False, default_url=GFW_API_BASE, expect="json", options=("token_env", "queries", "datasets")
    ),
    "gfw_port_visits_api": KindSpec(
        url_required=False,
        default_url=GFW_API_BASE,
        expect="json",
        options=("token_env", "start_date", "end_date", "vessel_ids", "region", "confidences", "dataset"),
    ),
}

# In the url of a daily feed, the UTC day a file covers, as YYYY-MM-DD (e.g. https://feed/ais/{date}.nmea).
DAY_PLACEHOLDER = "{date}"
DAILY_KINDS = tuple(kind for kind, spec in KINDS.items() if spec.daily)

# Settings any source may carry, with their types; they become the fetch layer's FetchOptions.
FETCH_SETTINGS: dict[str, type | tuple[type, ...]] = {
    "allow_insecure_http": bool,
    "allow_empty": bool,
    "on_fetch_error": str,
    "connect_timeout_s": (int, float),
    "read_timeout_s": (int, float),
    "total_timeout_s": (int, float),
    "retries": int,
    "max_bytes": int,
}
ON_FETCH_ERROR = ("fail", "reuse_last_good")

# A sources file names a few dozen feeds; anything near this size is not one.
MAX_SOURCES_FILE_BYTES = 1024 * 1024

_SOURCE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


@dataclass(frozen=True)
class Source:
    """One named source of the sources file."""

    name: str
    kind: str
    url: str
    extra_urls: dict[str, str] = field(default_factory=dict)
    base_dir: Path = Path(".")
    fetch_settings: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    local_roots: tuple[str, ...] = ()  # from $TANKERWATCH_ALLOWED_ROOTS when the file was loaded

    def urls(self) -> dict[str, str]:
        """Every URL to fetch for this source, keyed by role (`url`, `alt_url`, ...)."""
        return {"url": self.url, **self.extra_urls}

    @property
    def is_daily(self) -> bool:
        """A feed of one file per day: its url names the day with {date}; a run loads only its partitions' days."""
        return DAY_PLACEHOLDER in self.url

    def url_for_day(self, day: str) -> str:
        """The url of the file covering ``day`` (YYYY-MM-DD) of a daily feed."""
        return self.url.replace(DAY_PLACEHOLDER, day)

    def fetch_options(self):
        """The fetch layer's options for this source: its settings plus the content its kind expects."""
        from tankerwatch.fetch import FetchOptions

        try:
            return FetchOptions(expect=KINDS[self.kind].expect, local_roots=self.local_roots, **self.fetch_settings)
        except ValueError as exc:
            raise SourcesFileError(f"source '{self.name}': {exc}") from exc


def load_sources(path: Path) -> list[Source]:
    """Read and check a sources file; a problem raises SourcesFileError naming the source."""
    try:
        with Path(path).open("rb") as handle:
            data = handle.read(MAX_SOURCES_FILE_BYTES + 1)
    except OSError as exc:
        # strerror only: the OSError's own text would name the path a second time.
        raise SourcesFileError(f"cannot read sources file {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_SOURCES_FILE_BYTES:
        raise SourcesFileError(f"sources file {path} is larger than {MAX_SOURCES_FILE_BYTES:,} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SourcesFileError(f"sources file {path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        document = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader with fewer features
    except _Refused as exc:
        raise SourcesFileError(f"sources file {path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise SourcesFileError(f"sources file {path} is not valid YAML: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("sources"), dict):
        raise SourcesFileError(f"sources file {path} must have a top-level mapping 'sources: {{NAME: {{kind, url}}}}'")
    base_dir = Path(path).resolve().parent
    try:
        roots = allowed_roots()
    except ValueError as exc:
        raise SourcesFileError(str(exc)) from None
    return [_parse_source(str(name), spec, base_dir, roots) for name, spec in document["sources"].items()]


class _Refused(Exception):
    """A construct the sources file may not use, with where it is."""


def _line(node_or_event: Any) -> int:
    return node_or_event.start_mark.line + 1


class _StrictLoader(yaml.SafeLoader):
    """YAML without anchors, aliases or merge keys, and without a key twice in one mapping.

    An alias lets one short file expand into a huge document, and a merge key or a repeated key makes
    one source silently take settings from, or lose them to, another: in a file that decides what is
    fetched from where, every setting is spelled out where it applies.
    """

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise _Refused(f"line {_line(event)}: the alias *{event.anchor} is not allowed (no anchors or aliases)")
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            raise _Refused(f"line {_line(event)}: the anchor &{anchor} is not allowed (no anchors or aliases)")
        return super().compose_node(parent, index)

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    raise _Refused(f"line {_line(key_node)}: the merge key '<<' is not allowed")
                key = self.construct_object(key_node, deep=True)
                try:
                    first = seen.get(key)
                except TypeError:
                    continue  # an unhashable key: the constructor below reports it
                if first is not None:
                    raise _Refused(f"line {_line(key_node)}: the key {key!r} appears twice (first on line {first})")
                seen[key] = _line(key_node)
        return super().construct_mapping(node, deep=deep)


def _parse_source(name: str, spec: Any, base_dir: Path, roots: tuple[str, ...] = ()) -> Source:
    where = f"source {name!r}"
    if not _SOURCE_NAME.fullmatch(name):
        raise SourcesFileError(f"{where}: names are lower-case letters, digits and '_' (at most 64), starting with a letter")
    if not isinstance(spec, dict):
        raise SourcesFileError(f"{where}: expected a mapping with 'kind' and 'url'")
    kind = spec.get("kind")
    if not isinstance(kind, str) or kind not in KINDS:
        raise SourcesFileError(f"{where}: unknown kind {kind!r}; supported: {', '.join(sorted(KINDS))}")
    kind_spec = KINDS[kind]
    url = spec.get("url", kind_spec.default_url)
    if not isinstance(url, str) or not url.strip():
        raise SourcesFileError(f"{where}: 'url' is required")

    if DAY_PLACEHOLDER in url and not kind_spec.daily:
        raise SourcesFileError(
            f"{where}: {DAY_PLACEHOLDER} in 'url' names one file a day, which only {', '.join(DAILY_KINDS)} feeds have"
        )

    extra = {}
    for key in kind_spec.extra_urls:
        if spec.get(key) is not None:
            if not isinstance(spec[key], str) or not spec[key].strip():
                raise SourcesFileError(f"{where}: '{key}' must be a URL or path")
            extra[key] = spec[key]

    settings = {}
    for key, expected_type in FETCH_SETTINGS.items():
        if key in spec:
            value = spec[key]
            if isinstance(value, bool) and expected_type is not bool or not isinstance(value, expected_type):
                raise SourcesFileError(f"{where}: '{key}' has the wrong type ({value!r})")
            settings[key] = value
    if settings.get("on_fetch_error", "fail") not in ON_FETCH_ERROR:
        raise SourcesFileError(f"{where}: 'on_fetch_error' must be one of {', '.join(ON_FETCH_ERROR)}")

    known = {"kind", "url", *kind_spec.extra_urls, *FETCH_SETTINGS, *kind_spec.options}
    unknown = sorted(str(key) for key in set(spec) - known)
    if unknown:
        raise SourcesFileError(f"{where}: unknown settings {unknown} for kind {kind}")
    options = {key: spec[key] for key in kind_spec.options if key in spec}
    return Source(
        name=name, kind=kind, url=url, extra_urls=extra, base_dir=base_dir, fetch_settings=settings, options=options,
        local_roots=roots,
    )
