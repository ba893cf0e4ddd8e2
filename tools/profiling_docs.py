#!/usr/bin/env python3
"""Regenerate the example output in docs/profiling.md from a real run.

Runs the profiling demo (examples/profile_demo.c), copies its reports into
docs/example/ with source paths shortened to the repository root, renders the
flame graphs into docs/img/ with tools/flamegraph.py, and replaces the first
code block under each walkthrough heading of docs/profiling.md.

usage: tools/profiling_docs.py [path/to/sr-profile-demo]   (default: build/dev/examples/sr-profile-demo)
"""
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECTIONS = [  # heading prefix -> file whose text goes in the first code block below it
    ("### 1. What grew", "diff.txt"),
    ("### 2. What leaked", "report.excerpt"),
    ("### 3. At shutdown", "shutdown.txt"),
    ("### 4. The flame graph", "profile.folded"),
]


def report_excerpt(text):
    """The report's header, type table and first stack, then the leak section."""
    lines = text.splitlines()
    second = next(i for i, l in enumerate(lines) if l.startswith("  #2 "))
    top = next(l for l in lines if l.startswith("Top allocation stacks"))
    more = int(top.split("(")[1].split(" of ")[1].rstrip("):")) - 1
    leak = next(i for i, l in enumerate(lines) if l.startswith("Potential leaks"))
    return "\n".join(lines[:second] + [f"  [... {more} more stacks ...]", ""] + lines[leak:]) + "\n"


def replace_block(doc, heading, body):
    start = doc.index("\n" + heading) + 1
    open_ = doc.index("```\n", start)
    close = doc.index("```\n", open_ + 4)
    return doc[:open_] + "```\n" + body.rstrip("\n") + "\n" + doc[close:]


def main():
    demo = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build/dev/examples/sr-profile-demo")
    out = os.path.join(ROOT, "docs/example")
    os.makedirs(out, exist_ok=True)
    os.makedirs(os.path.join(ROOT, "docs/img"), exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([demo, tmp], check=True, stdout=subprocess.DEVNULL)
        for name in sorted(os.listdir(tmp)):
            text = open(os.path.join(tmp, name)).read().replace(ROOT + "/", "")
            open(os.path.join(out, name), "w").write(text)
    files = {name: open(os.path.join(out, name)).read() for name in os.listdir(out)}
    files["report.excerpt"] = report_excerpt(files["report.txt"])
    for folded, svg, title in (("profile.folded", "flame.svg", "profile_demo: live memory by allocation stack"),
                               ("diff.folded", "flame-diff.svg", "profile_demo: growth between two snapshots")):
        with open(os.path.join(ROOT, "docs/img", svg), "w") as f:
            subprocess.run([sys.executable, os.path.join(ROOT, "tools/flamegraph.py"), "--title", title,
                            os.path.join(out, folded)], check=True, stdout=f)
    path = os.path.join(ROOT, "docs/profiling.md")
    doc = open(path).read()
    for heading, name in SECTIONS:
        doc = replace_block(doc, heading, files[name])
    open(path, "w").write(doc)


if __name__ == "__main__":
    main()
