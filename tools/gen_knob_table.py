#!/usr/bin/env python3
"""Regenerates README.md's knob table from runtime/tidal/core/knobs.h (the one declaration)."""
import pathlib
import re

root = pathlib.Path(__file__).resolve().parent.parent
header = (root / "runtime/tidal/core/knobs.h").read_text()
table = header[header.index("#define TIDAL_KNOB_TABLE"):header.index("namespace tidal")]
body = re.sub(r"\\\n", " ", table)
entries = re.findall(r'X\((k\w+),\s*"(TIDAL_\w+)",\s*"([^"]*)",\s*((?:"(?:[^"\\]|\\.)*"\s*)+)\)', body)
rows = ["| knob | default | meaning |", "|---|---|---|"]
for _, name, default, meaning in entries:
    text = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', meaning)).replace("|", "\\|")
    rows.append(f"| `{name}` | `{default}` | {text} |" if default else f"| `{name}` | | {text} |")
readme = root / "README.md"
content = readme.read_text()
begin, end = "<!-- knobs:begin -->\n", "<!-- knobs:end -->"
start, stop = content.index(begin) + len(begin), content.index(end)
readme.write_text(content[:start] + "\n".join(rows) + "\n" + content[stop:])
print(f"{len(entries)} knobs")
