#!/usr/bin/env python3
"""Build an inline-SVG map of Vietnam: the 63 former provinces and the 34 of 2025-07-01.

Reads Natural Earth 1:10m admin-1 GeoJSON (public domain; world file or a
Vietnam extract) and the unit registry YAML (`{id: VN-03, ..., merged_into:
[VN-07]}` per line).  Assigns ISO 3166-2 codes, fixes two misfiled islands,
projects equirectangularly (x scaled by cos 16 deg; viewBox widened east for
Hoàng Sa and Trường Sa), drops islets, simplifies between border junctions (so
shared borders keep identical vertices) and rounds to 0.1.  Each current
province's outline dissolves its group: segments found twice are internal
borders and go, the rest are chained.  Output keys: source, licence, viewBox,
names, provinces (63 fills), outlines (34 strokes), islands (2 markers).
Usage: build_map.py SOURCE.geojson [OUT.json] [--lineage YAML] [--tolerance T]
"""
import argparse
import json
import math
import os
import re
import sys
from collections import Counter, defaultdict

WIDTH, MARGIN = 400.0, 2.0   # mainland width (viewBox units) and margin; height follows
TOLERANCE = 0.3              # Douglas-Peucker tolerance, viewBox units (~550 m)
MIN_AREA = 4.0               # drop polygons smaller than this, units^2 (~50 km2)
COS_LAT = math.cos(math.radians(16.0))
LINEAGE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "rules", "packs", "units", "vietnam-provinces.yaml")
# Archipelagos NE leaves out: marker (name, lon, lat) keyed by administering province.
ISLANDS = {"VN-DN": ("Quần đảo Hoàng Sa", 112.0, 16.5),    # Paracels, ~15.7-17.1N 111.2-112.9E
           "VN-34": ("Quần đảo Trường Sa", 114.0, 10.0)}   # Spratlys, ~8.6-11.5N 111.9-115.9E
EAST_LIMIT = 115.9           # the viewBox reaches the Spratlys' eastern extent

# Natural Earth adm1_code -> ISO 3166-2:VN code and name.  Used when a
# feature's own iso_3166_2 is unusable (older NE releases have "VN-" for 60 of
# 63 provinces, and region names such as "Đông Bắc" instead of "Bắc Kạn").
NE_TABLE = """
VNM-453 VN-01 Lai Châu | VNM-5483 VN-02 Lào Cai | VNM-512 VN-03 Hà Giang | VNM-511 VN-04 Cao Bằng
VNM-455 VN-05 Sơn La | VNM-458 VN-06 Yên Bái | VNM-457 VN-07 Tuyên Quang | VNM-454 VN-09 Lạng Sơn
VNM-429 VN-13 Quảng Ninh | VNM-459 VN-14 Hòa Bình | VNM-466 VN-18 Ninh Bình | VNM-471 VN-20 Thái Bình
VNM-456 VN-21 Thanh Hóa | VNM-475 VN-22 Nghệ An | VNM-474 VN-23 Hà Tĩnh | VNM-476 VN-24 Quảng Bình
VNM-489 VN-25 Quảng Trị | VNM-490 VN-26 Thừa Thiên Huế | VNM-487 VN-27 Quảng Nam | VNM-486 VN-28 Kon Tum
VNM-488 VN-29 Quảng Ngãi | VNM-478 VN-30 Gia Lai | VNM-485 VN-31 Bình Định | VNM-482 VN-32 Phú Yên
VNM-477 VN-33 Đắk Lắk | VNM-479 VN-34 Khánh Hòa | VNM-480 VN-35 Lâm Đồng | VNM-481 VN-36 Ninh Thuận
VNM-444 VN-37 Tây Ninh | VNM-497 VN-39 Đồng Nai | VNM-496 VN-40 Bình Thuận | VNM-503 VN-41 Long An
VNM-495 VN-43 Bà Rịa - Vũng Tàu | VNM-498 VN-44 An Giang | VNM-500 VN-45 Đồng Tháp
VNM-4834 VN-46 Tiền Giang | VNM-502 VN-47 Kiên Giang | VNM-510 VN-49 Vĩnh Long | VNM-504 VN-50 Bến Tre
VNM-509 VN-51 Trà Vinh | VNM-508 VN-52 Sóc Trăng | VNM-451 VN-53 Bắc Kạn | VNM-470 VN-54 Bắc Giang
VNM-506 VN-55 Bạc Liêu | VNM-463 VN-56 Bắc Ninh | VNM-483 VN-57 Bình Dương | VNM-484 VN-58 Bình Phước
VNM-507 VN-59 Cà Mau | VNM-460 VN-61 Hải Dương | VNM-467 VN-63 Hà Nam | VNM-461 VN-66 Hưng Yên
VNM-468 VN-67 Nam Định | VNM-469 VN-68 Phú Thọ | VNM-452 VN-69 Thái Nguyên | VNM-464 VN-70 Vĩnh Phúc
VNM-450 VN-71 Điện Biên | VNM-4835 VN-72 Đắk Nông | VNM-505 VN-73 Hậu Giang | VNM-499 VN-CT Cần Thơ
VNM-491 VN-DN Đà Nẵng | VNM-462 VN-HN Hà Nội | VNM-4600 VN-HP Hải Phòng | VNM-501 VN-SG Hồ Chí Minh
"""
ADM1_TO_ISO, NAMES = {}, {}
for _entry in filter(str.strip, NE_TABLE.replace("\n", "|").split("|")):
    _adm1, _iso, _name = _entry.split(maxsplit=2)
    ADM1_TO_ISO[_adm1], NAMES[_iso] = _iso, _name.strip()

# Islands NE puts in the wrong province: the polygon of `src` whose bounding
# box contains (lon, lat) is moved to `dst`.
ISLAND_FIXES = [("VN-52", "VN-43", 106.61, 8.69, "Côn Đảo"),
                ("VN-13", "VN-HP", 107.03, 20.79, "Cát Bà")]


def log(msg):
    print(msg, file=sys.stderr)


def read_lineage(path=LINEAGE):
    """{former code: current code} for the 63, from each unit's `merged_into` (else itself)."""
    group = {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if unit := re.match(r"\s*-\s*\{id:\s*(VN-\w+)", line):
                into = re.search(r"merged_into:\s*\[([^\]]*)\]", line)
                targets = into[1].replace(" ", "").split(",") if into else [unit[1]]
                if len(targets) != 1:
                    sys.exit(f"error: {unit[1]} is split over {targets}; cannot dissolve")
                group[unit[1]] = targets[0]
    if set(group) != set(NAMES) or any(group[cur] != cur for cur in group.values()):
        sys.exit(f"error: {path}: expected the 63 units, merging into continuing ones")
    return group


def iso_code(props):
    """ISO 3166-2 code of a Vietnamese feature, or None (e.g. NE's minor islands)."""
    by_adm1 = ADM1_TO_ISO.get(props.get("adm1_code"))
    for key in ("iso_3166_2", "ISO"):
        code = props.get(key)
        if code in NAMES:
            if by_adm1 and by_adm1 != code:
                log(f"warning: {props['adm1_code']}: {key}={code}, table says {by_adm1}")
            return code
    return by_adm1


def ring_area(ring):
    return abs(sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring, ring[1:]))) / 2


def douglas_peucker(points, tol):
    """Simplify an open polyline, keeping both end points."""
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        a, b = stack.pop()
        (ax, ay), (bx, by) = points[a], points[b]
        dx, dy, norm = bx - ax, by - ay, math.dist(points[a], points[b])
        best, index = -1.0, None
        for i in range(a + 1, b):
            px, py = points[i]
            d = abs(dy * (px - ax) - dx * (py - ay)) / norm if norm else math.hypot(px - ax, py - ay)
            if d > best:
                best, index = d, i
        if index is not None and best > tol:
            keep[index] = True
            stack += [(a, index), (index, b)]
    return [p for p, k in zip(points, keep) if k]


def simplify_ring(ring, owners, tol):
    """Simplify a closed ring piece by piece between junction vertices.

    A junction is a vertex where the set of rings sharing it changes, so a
    border between two provinces is cut at the same vertices in both rings;
    each piece is simplified in a canonical direction, giving identical output.
    """
    pts, n = ring[:-1], len(ring) - 1
    fixed = [i for i in range(n) if not
             owners[pts[i - 1]] == owners[pts[i]] == owners[pts[(i + 1) % n]]]
    if len(fixed) < 2:  # free-standing island: anchor at two far-apart points
        fixed = sorted({0, max(range(n), key=lambda i: math.dist(pts[0], pts[i]))})
    out = []
    for j, start in enumerate(fixed):
        end = fixed[(j + 1) % len(fixed)]
        piece = [pts[k % n] for k in range(start, end + (n if end <= start else 0) + 1)]
        flip = piece[-1] < piece[0]
        simple = douglas_peucker(piece[::-1] if flip else piece, tol)
        out += (simple[::-1] if flip else simple)[:-1]
    return out + out[:1]


def fmt(tenths):
    """Integer tenths -> shortest SVG number: 125 -> 12.5, 5 -> .5, -5 -> -.5."""
    s = f"{tenths / 10:.1f}".rstrip("0").rstrip(".")
    return s.replace("0.", ".", 1) if s.lstrip("-").startswith("0.") else s


def path_data(chains, closed=True):
    """'M x y l dx dy ...' (+ 'z' if closed) per chain of integer-tenth points."""
    def pair(x, y):
        return fmt(x) + ("" if y < 0 else " ") + fmt(y)
    parts = []
    for q in chains:
        steps = " ".join(pair(x1 - x0, y1 - y0) for (x0, y0), (x1, y1) in zip(q, q[1:]))
        parts.append(f"M{pair(*q[0])}l{steps.replace(' -', '-')}" + ("z" if closed else ""))
    return " ".join(parts)


def read_provinces(source_path):
    """{ISO code: [polygon, ...]} with polygon = [closed ring of (lon, lat), ...]."""
    with open(source_path, encoding="utf-8") as fh:
        features = json.load(fh)["features"]
    shapes, skipped = {}, []
    for f in features:
        props, geom = f.get("properties") or {}, f.get("geometry") or {}
        if not (props.get("adm0_a3") == "VNM" or props.get("iso_a2") == "VN"
                or str(props.get("ISO", "")).startswith("VN-")):
            continue
        code = iso_code(props)
        if code is None:
            skipped.append(props.get("adm1_code") or props.get("name"))
            continue
        if code in shapes:
            sys.exit(f"error: {code} appears more than once in the source")
        polys = [geom["coordinates"]] if geom["type"] == "Polygon" else geom["coordinates"]
        shapes[code] = [[[tuple(p[:2]) for p in r] + ([] if r[0] == r[-1] else [tuple(r[0][:2])])
                         for r in poly] for poly in polys]
    if set(shapes) != set(NAMES):
        sys.exit(f"error: no feature for {sorted(set(NAMES) - set(shapes))}")
    log(f"skipped Vietnamese features without a province code: {skipped}")
    for src, dst, lon, lat, label in ISLAND_FIXES:
        for poly in list(shapes[src]):
            xs, ys = zip(*poly[0])
            if min(xs) <= lon <= max(xs) and min(ys) <= lat <= max(ys):
                shapes[src].remove(poly)
                shapes[dst].append(poly)
                log(f"moved {label} from {src} to {dst}")
    return shapes


def quantise(ring):
    """Closed float ring -> open list of integer-tenth points, no repeats; [] if degenerate."""
    q = []
    for x, y in ring[:-1]:
        p = (round(x * 10), round(y * 10))
        if not q or p != q[-1]:
            q.append(p)
    while len(q) > 1 and q[-1] == q[0]:
        q.pop()
    return q if len(q) >= 3 else []


def dissolve(rings):
    """Rings of a group (integer tenths) -> (outline d, segments removed, open chains).

    Undirected segments found twice are internal borders; the rest are walked
    into chains from odd-degree points (open chains: a vertex mismatch), then loops.
    """
    segs = [(a, b) for q in rings for a, b in zip(q, q[1:] + q[:1])]
    count = Counter(frozenset(s) for s in segs)
    kept = [s for s in segs if count[frozenset(s)] == 1]
    ends = defaultdict(list)
    for i, (a, b) in enumerate(kept):
        ends[a].append(i)
        ends[b].append(i)
    used, loops, chains = [False] * len(kept), [], []
    for start in [p for p, ids in ends.items() if len(ids) % 2] + [a for a, _ in kept]:
        while any(not used[i] for i in ends[start]):
            chain = [start]
            while (i := next((i for i in ends[chain[-1]] if not used[i]), None)) is not None:
                used[i] = True
                chain.append(kept[i][1] if kept[i][0] == chain[-1] else kept[i][0])
            (loops if chain[-1] == start else chains).append(chain)
    d = " ".join(filter(None, [path_data([c[:-1] for c in loops]), path_data(chains, False)]))
    return d, len(segs) - len(kept), len(chains)


def build(source_path, lineage_path, tol):
    group = read_lineage(lineage_path)
    shapes = read_provinces(source_path)
    xs, ys = zip(*(p for polys in shapes.values() for poly in polys for p in poly[0]))
    west, north = min(xs), max(ys)
    scale = (WIDTH - 2 * MARGIN) / ((max(xs) - west) * COS_LAT)
    width = math.ceil((max(max(xs), EAST_LIMIT) - west) * COS_LAT * scale + 2 * MARGIN)
    height = math.ceil((north - min(ys)) * scale + 2 * MARGIN)

    def project(ring):  # rounded so that shared vertices hash identically
        return [(round(MARGIN + (x - west) * COS_LAT * scale, 6),
                 round(MARGIN + (north - y) * scale, 6)) for x, y in ring]

    projected, dropped = {}, 0
    for code, polys in shapes.items():
        projected[code] = []
        for poly in polys:
            if ring_area(project(poly[0])) < MIN_AREA:
                dropped += 1
            else:
                projected[code] += [project(r) for r in poly]
    owners = {}
    for code, rings in projected.items():
        for i, ring in enumerate(rings):
            for p in ring[:-1]:
                owners.setdefault(p, set()).add((code, i))
    rings = {code: [q for r in rs if (q := quantise(simplify_ring(r, owners, tol)))]
             for code, rs in sorted(projected.items())}
    log(f"{len(rings)} provinces; dropped {dropped} polygons < {MIN_AREA} units^2")
    outlines = {}
    for cur in sorted(set(group.values())):
        members = [c for c in rings if group[c] == cur]
        outlines[cur], removed, n_open = dissolve([q for c in members for q in rings[c]])
        log(f"{cur}: {'+'.join(members)}: {removed} internal segments removed"
            + (f"; warning: {n_open} open chains (unmatched shared border)" if n_open else ""))
    islands = {code: {"name": name, "x": round(x, 1), "y": round(y, 1)}
               for code, (name, lon, lat) in ISLANDS.items() for x, y in project([(lon, lat)])}
    return {
        "source": "Natural Earth 1:10m Admin 1 - States, Provinces "
                  f"(via {os.path.basename(source_path)}), simplified; outlines dissolved "
                  "per the 2025-07-01 merger (Resolution 202/2025/QH15)",
        "licence": "Public domain (Natural Earth, naturalearthdata.com). Made with Natural Earth.",
        "viewBox": f"0 0 {width} {height}",
        "names": {code: NAMES[code] for code in rings},
        "provinces": {code: path_data(qs) for code, qs in rings.items()},
        "outlines": outlines,
        "islands": islands,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", help="GeoJSON with Natural Earth admin-1 features")
    ap.add_argument("out", nargs="?", default="vietnam-provinces.json")
    ap.add_argument("--lineage", default=LINEAGE, help="unit registry YAML with merged_into")
    ap.add_argument("--tolerance", type=float, default=TOLERANCE)
    args = ap.parse_args()
    data = build(args.source, args.lineage, args.tolerance)
    with open(args.out, "w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False, separators=(",", ":"))
    log(f"wrote {args.out}: {os.path.getsize(args.out)} bytes, viewBox {data['viewBox']}")


if __name__ == "__main__":
    main()
