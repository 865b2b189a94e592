"""The README and docs/ stay true to the tree: the README's test command is the one CI runs,
every link lands on a file and a heading that exist, and every repository path they name
exists (a module moved to another room without its docs fails here, naming page and path)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# Paths the docs name that a run writes, not the repository: they may be absent.
OUTPUTS = frozenset({"benchmarks/results/quick/", "benchmarks/results/soak.json"})
LINK = re.compile(r"\]\(([^)\s]+)\)")
REPO_PATH = re.compile(r"`((?:engine|tests|benchmarks|configs|docs)/[A-Za-z0-9_./-]*)`")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    return {slug(m.group(1)) for m in re.finditer(r"^#{1,6} (.+)$", text, re.M)}


def broken_links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    broken = []
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue  # an absolute URL: not this repository's to check
        path, _, anchor = target.partition("#")
        landing = (page.parent / path).resolve() if path else page
        if not landing.exists():
            broken.append(f"{target} (no file {landing.relative_to(ROOT)})")
        elif anchor and landing.suffix == ".md" and anchor not in anchors(landing):
            broken.append(f"{target} (no heading #{anchor} in {landing.relative_to(ROOT)})")
    return broken


def test_the_docs_are_where_the_readme_sends_a_reader() -> None:
    """The pages the README links exist, so nothing that left the README is out of reach."""
    assert len(PAGES) > 1
    linked = {(ROOT / t.partition("#")[0]).resolve()
              for t in LINK.findall((ROOT / "README.md").read_text()) if t.startswith("docs/")}
    assert linked == {p.resolve() for p in PAGES[1:]}


def test_every_link_lands_on_a_file_and_a_heading() -> None:
    """A relative link to a missing file or a missing heading fails, naming page and link."""
    broken = {p.relative_to(ROOT).as_posix(): broken_links(p) for p in PAGES}
    assert {page: links for page, links in broken.items() if links} == {}


def test_every_repository_path_the_docs_name_exists() -> None:
    """`engine/run/sender.py` and the like are where the docs say: a module moved to another
    room without its docs fails here with the page and the stale path."""
    stale = {}
    for page in PAGES:
        named = set(REPO_PATH.findall(page.read_text()))
        missing = sorted(p for p in named - OUTPUTS
                         if not re.search(r"[A-Z]{3,}", p) and not (ROOT / p).exists())
        if missing:
            stale[page.relative_to(ROOT).as_posix()] = missing
    assert stale == {}


def test_the_readme_test_command_is_the_one_ci_runs() -> None:
    """The README's set-up-and-test line upgrades pip (dependency groups need pip 25.1),
    installs the dev group as .ci/run does and then runs exactly the lint, types and tests
    line of .ci/run."""
    readme = (ROOT / "README.md").read_text()
    (command,) = [line.strip() for line in readme.splitlines()
                  if line.startswith("    python3 -m venv .venv") and "--group" in line]
    steps = command.split(" && ")
    install = [".venv/bin/pip install --upgrade pip", ".venv/bin/pip install -e . --group dev"]
    assert steps[:3] == ["python3 -m venv .venv", *install]
    ci = (ROOT / ".ci" / "run").read_text()
    assert " && ".join(steps[3:]) in ci.splitlines()
    for step in install:
        assert step.replace(" install ", " install --quiet ") in ci.splitlines()


def test_every_fault_key_the_simulator_page_names_is_one_the_simulator_takes() -> None:
    """docs/simulator.md's fault list names keys a user types into PUT /_sim/faults: each is a
    field of FaultSettings (a wrong name is refused and the whole request with it)."""
    import dataclasses

    from engine.simulator.settings import FaultSettings

    page = (ROOT / "docs" / "simulator.md").read_text()
    section = page[page.index("## Fault modes"):]
    section = section[:section.index("\n## ", 1)] if "\n## " in section[1:] else section
    named = set(re.findall(r"`([a-z][a-z0-9]*_[a-z0-9_]+|[a-z]+)`", section))
    words = {"invalid_grant", "metadata", "seed", "scope"}  # an OAuth error; prose
    fields = {f.name for f in dataclasses.fields(FaultSettings)}
    assert named - words - fields == set()


IMAGE = re.compile(r"!\[[^\]]*\]\(\s*<?([^)\s>]+)|<img\b[^>]*\bsrc\s*=\s*[\"']?([^\"'\s>]+)",
                   re.I)


def test_the_readme_has_no_relative_image_link() -> None:
    """The README is the package index's description, where a relative image link breaks
    (there is no public address for an absolute one): the charts live in
    docs/benchmarks.md."""
    readme = (ROOT / "README.md").read_text()
    relative = [target for pair in IMAGE.findall(readme) for target in pair
                if target and not re.match(r"[a-z][a-z0-9+.-]*:", target, re.I)]
    assert relative == []
    assert IMAGE.findall("![chart](benchmarks/results/x.png) <img src='a.svg'>") == \
        [("benchmarks/results/x.png", ""), ("", "a.svg")]  # the pattern sees both forms
