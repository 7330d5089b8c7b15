"""The docs stay true: the site builds strictly and offline, the README stays short, every relative link
lands on a file (and heading) that exists, and every repository file the docs name is there.

A newcomer reads the README and the site before the code; a link or a path that no longer leads anywhere
sends them the wrong way, so a rename that forgets the docs fails here.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from markdown.extensions.toc import slugify

from tankerwatch.settings import REPO_ROOT

DOCS = REPO_ROOT / "docs"
README = REPO_ROOT / "README.md"
README_MAX_LINES = 200

# [text](target) and [text]: target; images too. Autolinks and bare URLs are not relative links.
INLINE_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_LINK = re.compile(r"^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$", re.MULTILINE)
FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"`[^`\n]+`")
HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$", re.MULTILINE)


def markdown_files() -> list[Path]:
    return [README, REPO_ROOT / "CHANGELOG.md", *sorted(DOCS.rglob("*.md"))]


def without_code(text: str) -> str:
    """Links inside code blocks and code spans are examples, not links."""
    return INLINE_CODE.sub("", FENCE.sub("", text))


def relative_links(text: str) -> list[str]:
    prose = without_code(text)
    targets = INLINE_LINK.findall(prose) + REFERENCE_LINK.findall(prose)
    return [t for t in targets if not re.match(r"^[a-z][a-z0-9+.-]*:", t, re.IGNORECASE) and not t.startswith("//")]


def anchors(path: Path) -> set[str]:
    """The ids mkdocs' toc extension gives the headings of a page (repeats get _1, _2, ...)."""
    seen: dict[str, int] = {}
    out = set()
    for _, title in HEADING.findall(FENCE.sub("", path.read_text(encoding="utf-8"))):
        plain = re.sub(r"`([^`]*)`", r"\1", title)
        plain = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", plain)
        slug = slugify(plain, "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}_{n}")
    return out


def broken_links(path: Path) -> list[str]:
    problems = []
    for target in relative_links(path.read_text(encoding="utf-8")):
        file_part, _, fragment = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        if not dest.exists():
            problems.append(f"{path.relative_to(REPO_ROOT)}: link {target!r} leads to no file")
        elif fragment and dest.suffix == ".md" and fragment not in anchors(dest):
            problems.append(f"{path.relative_to(REPO_ROOT)}: link {target!r}: {dest.name} has no heading #{fragment}")
    return problems


def test_readme_is_short():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; at most {README_MAX_LINES}"


def test_every_relative_link_resolves():
    problems = [p for path in markdown_files() for p in broken_links(path)]
    assert problems == []


def test_link_checker_sees_a_broken_link_and_a_broken_anchor(tmp_path):
    (tmp_path / "there.md").write_text("# A heading\n\n## Second `one`\n", encoding="utf-8")
    page = tmp_path / "page.md"
    page.write_text(
        "[ok](there.md) [ok](there.md#second-one) [site](https://example.org/x.md) `[code](nowhere.md)`\n"
        "[gone](nowhere.md) [bad anchor](there.md#no-such-heading)\n\n"
        "```\n[in a block](nowhere-either.md)\n```\n",
        encoding="utf-8",
    )
    targets = relative_links(page.read_text(encoding="utf-8"))
    assert targets == ["there.md", "there.md#second-one", "nowhere.md", "there.md#no-such-heading"]
    assert anchors(tmp_path / "there.md") == {"a-heading", "second-one"}


# Repository paths the docs name in code spans: a top-level folder of the repository, then a file name.
# Placeholders (<model>), globs and runtime paths under data/ are not files of the repository.
REPO_PATH = re.compile(r"^(?:[A-Za-z0-9_.-]+/)+[A-Za-z0-9_.-]+\.[a-z]{1,5}$")


def named_repo_paths(text: str) -> list[str]:
    tops = {p.name for p in REPO_ROOT.iterdir() if p.is_dir() and not p.name.startswith(".")}
    out = []
    for span in re.findall(r"`([^`\n]+)`", FENCE.sub("", text)):
        if REPO_PATH.match(span) and span.split("/", 1)[0] in tops - {"data", "build"}:
            out.append(span)
    return out


def test_every_repository_file_the_docs_name_exists():
    missing = [
        f"{path.relative_to(REPO_ROOT)}: `{name}`"
        for path in markdown_files()
        for name in named_repo_paths(path.read_text(encoding="utf-8"))
        if not (REPO_ROOT / name).exists()
    ]
    assert missing == []


def rule_table_rows() -> list[tuple[str, str]]:
    """The rows of the rule -> file table in docs/rules.md, as (rule, file cell)."""
    text = (DOCS / "rules.md").read_text(encoding="utf-8")
    section = text.split("## The rules, and where each one lives", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and len(cells) == 2 and cells != ["rule", "file"] and not set(cells[0]) <= set("-: "):
            rows.append((cells[0], cells[1]))
    return rows


def test_the_rule_table_names_files_that_exist():
    rows = rule_table_rows()
    assert len(rows) >= 15, rows
    for rule, cell in rows:
        files = [span for span in re.findall(r"`([^`]+)`", cell) if "/" in span]
        assert files, f"rule {rule!r} names no file: {cell}"
        missing = [f for f in files if not (REPO_ROOT / f).is_file()]
        assert missing == [], f"rule {rule!r} names files that do not exist: {missing}"


def mkdocs_executable() -> str:
    candidate = Path(sys.executable).with_name("mkdocs")
    return str(candidate) if candidate.exists() else "mkdocs"


@pytest.fixture(scope="module")
def built_site(tmp_path_factory) -> Path:
    site = tmp_path_factory.mktemp("docs") / "site"
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    # Any attempt to reach the network fails at once instead of waiting.
    env.update(HTTP_PROXY="http://127.0.0.1:9", HTTPS_PROXY="http://127.0.0.1:9", NO_PROXY="")
    result = subprocess.run(
        [mkdocs_executable(), "build", "--strict", "-f", str(REPO_ROOT / "mkdocs.yml"), "-d", str(site)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "WARNING" not in output, output
    return site


def test_the_site_builds_strictly_offline(built_site):
    pages = sorted(p.relative_to(DOCS).with_suffix("") for p in DOCS.rglob("*.md"))
    for page in pages:
        built = built_site / ("index.html" if page.name == "index" else page / "index.html")
        assert built.is_file(), f"docs/{page}.md was not built"
    rules = (built_site / "rules" / "index.html").read_text(encoding="utf-8")
    assert "sql/intermediate/int_vessels.sql" in rules
    # The theme's pages must open without a network: no script or stylesheet from another host.
    remote_asset = re.compile(r"<(?:script|link)[^>]+(?:src|href)=\"(?:https?:)?//[^\"]+\"")
    for html in built_site.rglob("*.html"):
        remote = remote_asset.findall(html.read_text(encoding="utf-8"))
        assert remote == [], f"{html.relative_to(built_site)} loads {remote}"


# Tags the theme and Markdown write. Any other tag in a page is text such as `<imo>` written outside a code span,
# which a browser hides: the reader would see "-" where the docs say "<imo>-<time>".
HTML_TAGS = set(
    "a abbr b blockquote body br button code div em footer form h1 h2 h3 h4 h5 h6 head header hr html i img "
    "input kbd label li link meta nav ol p pre script small span strong style table tbody td th thead title tr "
    "ul svg path use del sup sub section main aside details summary".split()
)


def test_no_text_is_swallowed_as_an_html_tag(built_site):
    swallowed = {}
    for html in sorted(built_site.rglob("*.html")):
        if html.parent.name in {"search", "404.html"} or html.name == "404.html":
            continue
        tags = set(re.findall(r"<([a-zA-Z][a-zA-Z0-9_-]*)", html.read_text(encoding="utf-8"))) - HTML_TAGS
        if tags:
            swallowed[str(html.relative_to(built_site))] = sorted(tags)
    assert swallowed == {}, "write these in a code span or escape < and >"


@pytest.mark.parametrize("page", ["consumers", "sources", "operations", "rules", "gates", "performance", "development"])
def test_each_reader_has_a_page_in_the_nav(page):
    config = (REPO_ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    assert re.search(rf"^\s*- [^:]+: {page}\.md$", config, re.MULTILINE), f"{page}.md is not in mkdocs.yml's nav"
    assert (DOCS / f"{page}.md").is_file()
