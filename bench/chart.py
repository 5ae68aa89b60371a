"""The scale curve as an SVG: p50 server time per list page against the data scale (log x axis)."""

from __future__ import annotations

import math
from pathlib import Path
from xml.sax.saxutils import escape

from .measure import SCALE_VALUES, SCALES

COLOURS = ("#e8475f", "#1f8fb3", "#2f9e62", "#d99b00", "#7651d6", "#c2458f")
WIDTH, HEIGHT = 720, 420
LEFT, RIGHT, TOP, BOTTOM = 64, 200, 48, 56


def _nice_ceiling(value: float) -> float:
    if value <= 0:
        return 1.0
    exponent = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * exponent:
            return step * exponent
    return 10 * exponent


def write(results: dict, path: Path) -> None:
    lists = results.get("lists") or {}
    series = []
    for page, info in lists.items():
        points = [
            (SCALE_VALUES[s], info["points"][s]["p50_ms"], info["points"][s]["p95_ms"])
            for s in SCALES
            if "p50_ms" in info["points"][s]
        ]
        if points:
            series.append((page, info, points))
    top = _nice_ceiling(max((p95 for _n, _i, pts in series for _x, _p50, p95 in pts), default=1.0) * 1.1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    lo, hi = math.log10(SCALE_VALUES[SCALES[0]]), math.log10(SCALE_VALUES[SCALES[-1]])

    def x(value: float) -> float:
        return LEFT + (math.log10(value) - lo) / (hi - lo) * plot_w

    def y(value: float) -> float:
        return TOP + plot_h - value / top * plot_h

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        'font-family="system-ui, sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#fff"/>',
        f'<text x="{LEFT}" y="24" font-size="15" font-weight="600">List pages: p50 server time vs data scale</text>',
        f'<text x="{LEFT}" y="40" fill="#666">{escape(_subtitle(results))}</text>',
    ]
    for i in range(6):
        value = top * i / 5
        out.append(f'<line x1="{LEFT}" x2="{LEFT + plot_w}" y1="{y(value):.1f}" y2="{y(value):.1f}" stroke="#eee"/>')
        out.append(f'<text x="{LEFT - 8}" y="{y(value) + 4:.1f}" text-anchor="end" fill="#555">{value:g}</text>')
    for scale in SCALES:
        px = x(SCALE_VALUES[scale])
        out.append(f'<line x1="{px:.1f}" x2="{px:.1f}" y1="{TOP}" y2="{TOP + plot_h}" stroke="#eee"/>')
        out.append(f'<text x="{px:.1f}" y="{TOP + plot_h + 18}" text-anchor="middle" fill="#555">{scale}</text>')
    out.append(
        f'<text x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 14}" text-anchor="middle" fill="#333">'
        "scale (rows of the viewing party; log axis; see docs/performance.md)</text>"
    )
    out.append(
        f'<text transform="translate(16 {TOP + plot_h / 2:.1f}) rotate(-90)" text-anchor="middle" fill="#333">'
        "p50 ms (whiskers: p95)</text>"
    )
    out.append(f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#999"/>')
    for index, (page, info, points) in enumerate(series):
        colour = COLOURS[index % len(COLOURS)]
        path_d = " ".join(
            f"{'M' if i == 0 else 'L'}{x(px):.1f},{y(p50):.1f}" for i, (px, p50, _p95) in enumerate(points)
        )
        out.append(f'<path d="{path_d}" fill="none" stroke="{colour}" stroke-width="2"/>')
        for px, p50, p95 in points:
            out.append(
                f'<line x1="{x(px):.1f}" x2="{x(px):.1f}" y1="{y(p50):.1f}" y2="{y(p95):.1f}" '
                f'stroke="{colour}" opacity="0.5"/>'
            )
            out.append(f'<circle cx="{x(px):.1f}" cy="{y(p50):.1f}" r="3.5" fill="{colour}"/>')
        ly = TOP + 8 + index * 36
        lx = LEFT + plot_w + 16
        ratio = info.get("list_scale_ratio")
        state = "" if info.get("state") == "measured" else f" · {info.get('state')}"
        out.append(f'<rect x="{lx}" y="{ly}" width="12" height="12" fill="{colour}"/>')
        out.append(f'<text x="{lx + 18}" y="{ly + 10}">{escape(info.get("path", page))}</text>')
        out.append(
            f'<text x="{lx + 18}" y="{ly + 25}" fill="#666">'
            f"ratio {ratio if ratio is not None else '—'}{escape(state)}</text>"
        )
    out.append("</svg>")
    path.write_text("\n".join(out) + "\n", encoding="utf-8")


def _subtitle(results: dict) -> str:
    m = results.get("machine", {})
    data = results.get("data_set", {})
    return (
        f"{data.get('grants', 0):,} grants · {m.get('nproc', '?')} cores · PostgreSQL {m.get('postgresql', '?')} · "
        f"{results.get('run_at', '')}"
    )
