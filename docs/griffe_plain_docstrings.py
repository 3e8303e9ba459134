"""Griffe extension (mkdocstrings): show this codebase's plain docstrings as written.

The docstrings use placeholders like `<suite>` or <first dir> in running text; Markdown would
take an unquoted one for an HTML tag and the page would drop it. This escapes each `<...>` that
looks like a tag outside code (code spans, fenced blocks and indented blocks keep it).
"""

from __future__ import annotations

import re

import griffe

CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")


PLACEHOLDER = re.compile(r"(_?)(</?[A-Za-z][^<>`]*>)(_?)")


def escape_text(text: str) -> str:
    """`<x>` -> `&lt;x>`; an underscore touching it is escaped too (`a_<x>_<y>` is no emphasis)."""
    return PLACEHOLDER.sub(lambda m: ("\\_" if m.group(1) else "") + "&lt;" + m.group(2)[1:]
                           + ("\\_" if m.group(3) else ""), text)


def escape_line(line: str) -> str:
    out, last = [], 0
    for m in CODE_SPAN.finditer(line):
        out.append(escape_text(line[last:m.start()]))
        out.append(m.group(0))
        last = m.end()
    out.append(escape_text(line[last:]))
    return "".join(out)


def escape(text: str) -> str:
    lines, fenced, previous_blank = [], False, True
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped.startswith("```"):
            fenced = not fenced
            lines.append(line)
        elif fenced or (line.startswith("    ") and previous_blank) or (lines and line.startswith("    ")
                                                                        and lines[-1].startswith("    ")):
            lines.append(line)  # code: shown verbatim already
        else:
            lines.append(escape_line(line))
        previous_blank = not stripped if not line.startswith("    ") else previous_blank
    return "\n".join(lines)


class PlainDocstrings(griffe.Extension):
    def on_instance(self, *, obj: griffe.Object, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = escape(obj.docstring.value)
