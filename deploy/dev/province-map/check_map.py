#!/usr/bin/env python3
"""Check vietnam-provinces.json (from build_map.py) and draw a check SVG.

Re-derives each current province's dissolve from the 63 fill paths in the JSON
and compares it with the stored outline, segment by segment.  Per group it
prints the segments of the members' fills, how many were removed as internal
borders, what is left, and suspected strays: left-over segments that look like
a shared border whose vertices do not match (both end points are vertices of
another member, or the midpoint lies within 0.1 of the inside of another
member's left-over segment).  The SVG has the 63 fills coloured by current
province (no stroke), the 34 outlines (dark, 0.6) and the two island markers.
Exits non-zero if an outline differs from its re-derived dissolve or has strays.
Usage: check_map.py [MAP.json] [--lineage YAML] [--svg OUT.svg]
Render: chromium --headless --screenshot=OUT.png --window-size=600,900 file://OUT.svg
"""
import argparse
import json
import math
import re
import sys
from collections import Counter

from build_map import LINEAGE, read_lineage


def parse_d(d):
    """SVG 'M x y l dx dy ... [z]' -> [(points in integer tenths, closed)]."""
    chains = []
    for sub in re.findall(r"M[^M]*", d):
        nums = [round(float(n) * 10) for n in re.findall(r"-?(?:\d+\.?\d*|\.\d+)", sub)]
        pts = [(nums[0], nums[1])]
        for dx, dy in zip(nums[2::2], nums[3::2]):
            pts.append((pts[-1][0] + dx, pts[-1][1] + dy))
        chains.append((pts, sub.rstrip().endswith("z")))
    return chains


def segments(chains):
    return [frozenset(s) for pts, closed in chains
            for s in zip(pts, pts[1:] + (pts[:1] if closed else []))]


def strays(left, verts, eps=1):
    """left: [(member, a, b)]; verts: {member: set of points}.  Count suspected strays."""
    def near(code, a, b):
        if any(a in vs and b in vs for other, vs in verts.items() if other != code):
            return True
        px, py = (a[0] + b[0]) / 2, (a[1] + b[1]) / 2
        for other, (cx, cy), (ex, ey) in left:
            dx, dy = ex - cx, ey - cy
            t = ((px - cx) * dx + (py - cy) * dy) / (dx * dx + dy * dy)
            if other != code and 0 < t < 1 and math.hypot(px - cx - t * dx, py - cy - t * dy) <= eps:
                return True
        return False
    return sum(near(*s) for s in left)


def check(data, group):
    fills = {code: parse_d(d) for code, d in data["provinces"].items()}
    ok = True
    print("group  members            fill-segs removed left outline-segs loops open strays")
    for cur, d in data["outlines"].items():
        members = sorted(c for c in fills if group[c] == cur)
        segs = [(c, tuple(s)) for c in members for s in segments(fills[c])]
        count = Counter(frozenset(s) for _, s in segs)
        left = [(c, *s) for c, s in segs if count[frozenset(s)] == 1]
        outline = parse_d(d)
        n_stray = strays(left, {c: {p for pts, _ in fills[c] for p in pts} for c in members})
        same = Counter(frozenset(s[1:]) for s in left) == Counter(segments(outline))
        ok &= same and not n_stray
        print(f"{cur:6} {'+'.join(m[3:] for m in members):18} {len(segs):9} "
              f"{len(segs) - len(left):7} {len(left):4} {len(segments(outline)):12} "
              f"{sum(c for _, c in outline):5} {sum(not c for _, c in outline):4} {n_stray:6}"
              + ("" if same else "  OUTLINE DIFFERS FROM RE-DERIVED DISSOLVE"))
    return ok


def check_svg(data, group, out_width=600):
    w, h = map(float, data["viewBox"].split()[2:])
    hue = {cur: i * 137.5 % 360 for i, cur in enumerate(data["outlines"])}
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{out_width}" '
           f'height="{out_width * h / w:.0f}" viewBox="{data["viewBox"]}">',
           f'<rect width="{w:g}" height="{h:g}" fill="#eef4f8"/>']
    # members a shade lighter than the province they merged into
    out += [f'<path d="{d}" fill="hsl({hue[group[c]]:.0f},55%,{68 if c == group[c] else 74}%)">'
            f'<title>{c} {data["names"][c]} → {group[c]}</title></path>'
            for c, d in data["provinces"].items()]
    out += [f'<path d="{d}" fill="none" stroke="#222" stroke-width=".6" '
            f'stroke-linejoin="round"><title>{c}</title></path>' for c, d in data["outlines"].items()]
    for isl in data["islands"].values():
        x, y = isl["x"], isl["y"]
        out += [f'<circle cx="{x + dx:g}" cy="{y + dy:g}" r="1.2" fill="#222"/>'
                for dx, dy in ((0, 0), (-6, -4), (5, -6), (7, 3), (-3, 6), (2, 9), (-8, 3))]
        out.append(f'<text x="{x:g}" y="{y + 22:g}" font-size="11" text-anchor="middle" '
                   f'font-family="sans-serif">{isl["name"]}</text>')
    return "\n".join(out + ["</svg>\n"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("map", nargs="?", default="vietnam-provinces.json")
    ap.add_argument("--lineage", default=LINEAGE)
    ap.add_argument("--svg", help="write the check SVG here")
    args = ap.parse_args()
    with open(args.map, encoding="utf-8") as fh:
        data = json.load(fh)
    group = read_lineage(args.lineage)
    ok = check(data, group)
    if args.svg:
        with open(args.svg, "w", encoding="utf-8") as fh:
            fh.write(check_svg(data, group))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
