#!/usr/bin/env python3
"""Render folded stacks ("root;frame;leaf 123" per line) as a flame graph SVG.

A small stand-alone renderer for the FOLDED reports of scriptrt's profiler
(sr_profiler_report(rt, SR_REPORT_FOLDED)); flamegraph.pl, inferno and
speedscope read the same input. Only the Python standard library is used.

usage: tools/flamegraph.py [--title T] [--unit bytes] [--width 1200] < in.folded > out.svg
"""
import argparse
import hashlib
import html
import sys

ROW = 18          # pixels per frame row
PAD_TOP = 40
PAD_BOTTOM = 24
MARGIN = 10
FONT = 11
CHAR_W = 6.4      # average glyph width at FONT px (monospace-ish estimate)


class Node:
    __slots__ = ("name", "value", "children")

    def __init__(self, name):
        self.name = name
        self.value = 0
        self.children = {}


def parse(lines):
    root = Node("all")
    for n, line in enumerate(lines, 1):
        line = line.rstrip("\n")
        if not line.strip():
            continue
        key, sep, count = line.rpartition(" ")
        if not sep or not count.lstrip("-").isdigit():
            sys.exit(f"line {n}: not 'frame;frame;... count': {line!r}")
        value = int(count)
        if value <= 0:
            continue
        root.value += value
        node = root
        for frame in key.split(";"):
            child = node.children.get(frame)
            if child is None:
                child = node.children[frame] = Node(frame)
            child.value += value
            node = child
    return root


def colour(name):
    """A warm colour chosen by the name, so a function keeps its colour across graphs."""
    h = hashlib.md5(name.encode()).digest()
    if name.startswith("["):        # the leaf scriptrt adds: the allocated type
        return "rgb(%d,%d,%d)" % (80 + h[0] % 40, 140 + h[1] % 60, 200 + h[2] % 55)
    return "rgb(%d,%d,%d)" % (205 + h[0] % 50, 80 + h[1] % 120, 40 + h[2] % 50)


def layout(root, width):
    """(depth, x, w, node) for every frame, iteratively (no recursion)."""
    out = []
    scale = (width - 2 * MARGIN) / root.value if root.value else 0
    work = [(0, MARGIN, root)]
    while work:
        depth, x, node = work.pop()
        w = node.value * scale
        out.append((depth, x, w, node))
        cx = x
        for child in sorted(node.children.values(), key=lambda c: c.name):
            work.append((depth + 1, cx, child))
            cx += child.value * scale
    return out


def render(root, title, unit, width):
    boxes = layout(root, width)
    depth = max((d for d, _, _, _ in boxes), default=0) + 1
    height = PAD_TOP + depth * ROW + PAD_BOTTOM
    total = root.value
    o = []
    o.append('<?xml version="1.0" standalone="no"?>')
    o.append(f'<svg version="1.1" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
             'xmlns="http://www.w3.org/2000/svg">')
    o.append(f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fdf8f0"/>')
    o.append(f'<text x="{width / 2:.1f}" y="24" font-family="Verdana,sans-serif" font-size="17" '
             f'text-anchor="middle">{html.escape(title)}</text>')
    o.append(f'<text x="{MARGIN}" y="{height - 8}" font-family="Verdana,sans-serif" font-size="{FONT}" '
             f'fill="#555">total {total:,} {html.escape(unit)}; width = share of {html.escape(unit)}; '
             'hover a frame for its figures</text>')
    for d, x, w, node in boxes:
        if w < 0.3:
            continue
        y = height - PAD_BOTTOM - (d + 1) * ROW
        pct = 100.0 * node.value / total if total else 0
        tip = f"{node.name} ({node.value:,} {unit}, {pct:.2f}%)"
        fill = "#d8d0c8" if d == 0 else colour(node.name)
        o.append('<g>')
        o.append(f'<title>{html.escape(tip)}</title>')
        o.append(f'<rect x="{x:.2f}" y="{y}" width="{w:.2f}" height="{ROW - 1}" fill="{fill}" rx="2" ry="2"/>')
        chars = int((w - 6) / CHAR_W)
        if chars >= 3:
            label = node.name if len(node.name) <= chars else node.name[:chars - 2] + ".."
            o.append(f'<text x="{x + 3:.2f}" y="{y + ROW - 5}" font-family="monospace" font-size="{FONT}">'
                     f'{html.escape(label)}</text>')
        o.append('</g>')
    o.append('</svg>')
    return "\n".join(o) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--title", default="scriptrt live memory by allocation stack")
    ap.add_argument("--unit", default="bytes")
    ap.add_argument("--width", type=int, default=1200)
    ap.add_argument("input", nargs="?", help="folded file (default: standard input)")
    a = ap.parse_args()
    src = open(a.input) if a.input else sys.stdin
    root = parse(src)
    sys.stdout.write(render(root, a.title, a.unit, a.width))


if __name__ == "__main__":
    main()
