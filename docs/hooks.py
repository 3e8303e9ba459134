"""MkDocs hooks: pages that are generated, so they cannot drift from what they describe.

`<!-- every-option -->` in a page becomes the table of every option of every config group under
conf/, each with the first comment of its YAML file.

The committed report's plots are served from experiments/results/ without copying them:
docs/results.md includes experiments/results/synthetic/results.md (pymdownx.snippets), whose
images are named relative to that file (`tradeoff_<...>.png`). This hook adds every PNG of that
folder to the build beside results.md, so the images resolve, strict mode can check them, and the
page is always the committed report: nothing is copied into docs/.
"""

from __future__ import annotations

from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "experiments" / "results" / "synthetic"
VALIDITY = ROOT / "experiments" / "results" / "audit_validity"  # included by docs/audit.md, the same way
CONF = ROOT / "conf"


def on_files(files, config):
    for png in sorted([*RESULTS.glob("*.png"), *VALIDITY.glob("*.png")]):
        files.append(File.generated(config, png.name, abs_src_path=str(png)))
    return files


def on_page_markdown(markdown, page, config, files):
    return markdown.replace("<!-- every-option -->", every_option())


def every_option() -> str:
    rows = ["| group | option | what it is |", "|---|---|---|"]
    for path in sorted(p for p in CONF.rglob("*.yaml") if p.parent != CONF):
        group = path.parent.relative_to(CONF).as_posix()
        rows.append(f"| `{group}` | `{path.stem}` | {_first_comment(path)} |")
    return "\n".join(rows)


def _first_comment(path: Path) -> str:
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            return line.lstrip("# ").replace("|", "\\|").replace("<", "&lt;")
    return ""
