#!/usr/bin/env python3
"""BENCHMARKS.md from the bench tables (`make bench` runs this after the parts).

Reads build/bench/<part>.tsv and <part>.md, written by tests/bench/run.sh (relay),
keeper.sh (keeper) and instr.sh (instr), and build/bench/summary.tsv (each part's exit
status, from tests/bench/all.sh). Writes:

  build/bench/relay-keepalive.svg   keep-alive req/s against connections, a line per front end
  build/bench/relay-handshakes.svg  full handshakes/s against connections
  docs/bench/*.svg                  the same, committed: BENCHMARKS.md shows them
  BENCHMARKS.md                     only between its markers
                                    <!-- BEGIN GENERATED PART --> and <!-- END GENERATED PART -->

A part is regenerated only when it ran in the last `make bench` (summary.tsv) and left its
table; otherwise its section stays as it was. A part that failed is regenerated with what it
measured, under a line that says it failed. Everything outside the markers is hand-written
and left alone.

Options: --no-docs (charts under build/bench/ only), --out DIR (build/bench),
--doc FILE (BENCHMARKS.md), --charts DIR (docs/bench). Python 3 standard library only.
Exit status 0, or 1 when a table cannot be read or a marker is missing.
"""

import argparse
import math
import os
import re
import shutil
import sys
from xml.sax.saxutils import escape

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PARTS = ("relay", "keeper", "instr")
# One colour per front end, the gateway first; the rest in order of appearance.
COLOURS = {"gateway": "#c0392b", "haproxy": "#1f5fa8", "nginx": "#2e8b3a"}
SPARE = ("#8e44ad", "#d68910", "#17a2b8")
DASHES = {"gateway": "", "haproxy": "6,3", "nginx": "2,3"}


def read_tsv(path):
    """(meta dict from '# key: value' lines, header list, rows as dicts)."""
    meta, header, rows = {}, None, []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("#"):
                m = re.match(r"#\s*([^:]+):\s?(.*)$", line)
                if m:
                    meta[m.group(1).strip()] = m.group(2)
                continue
            if not line:
                continue
            cells = line.split("\t")
            if header is None:
                header = cells
            else:
                rows.append(dict(zip(header, cells)))
    if header is None:
        raise ValueError(f"{path}: no header line")
    return meta, header, rows


def read_summary(path):
    """{part: exit status as int} of the last run, {} if there is none."""
    if not os.path.exists(path):
        return {}
    _, _, rows = read_tsv(path)
    out = {}
    for r in rows:
        try:
            out[r["part"]] = int(r["exit"])
        except (KeyError, ValueError):
            out[r.get("part", "?")] = 1
    return out


def nice_step(span, ticks=6):
    raw = span / ticks
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if m * mag >= raw:
            return m * mag
    return 10 * mag


def fmt_int(v):
    return f"{v:,.0f}"


def line_chart(series, title, ylabel, subtitle):
    """An SVG line chart: series is {name: [(connections, value), ...]}; x on a log2 scale."""
    W, H = 760, 440
    left, right, top, bottom = 84, 150, 58, 64
    pw, ph = W - left - right, H - top - bottom
    xs = sorted({x for pts in series.values() for x, _ in pts})
    ymax = max([v for pts in series.values() for _, v in pts] + [1.0])
    step = nice_step(ymax * 1.05)
    ytop = step * math.ceil(ymax * 1.05 / step)
    lx0, lx1 = math.log2(xs[0]), math.log2(xs[-1])
    if lx1 == lx0:
        lx0, lx1 = lx0 - 1, lx1 + 1

    def px(x):
        return left + (math.log2(x) - lx0) / (lx1 - lx0) * pw

    def py(y):
        return top + ph - y / ytop * ph

    o = []
    o.append(f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
             f'viewBox="0 0 {W} {H}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" '
             f'font-size="12" role="img" aria-labelledby="t">')
    o.append(f'<title id="t">{escape(title)}</title>')
    o.append(f'<rect width="{W}" height="{H}" fill="#ffffff"/>')
    o.append(f'<text x="{left}" y="24" font-size="16" font-weight="bold">{escape(title)}</text>')
    o.append(f'<text x="{left}" y="42" font-size="11" fill="#555555">{escape(subtitle)}</text>')
    # Grid and y ticks.
    y = 0.0
    while y <= ytop + step / 2:
        yy = py(y)
        o.append(f'<line x1="{left}" y1="{yy:.1f}" x2="{left + pw}" y2="{yy:.1f}" '
                 f'stroke="#e3e3e3" stroke-width="1"/>')
        o.append(f'<text x="{left - 8}" y="{yy + 4:.1f}" text-anchor="end">{fmt_int(y)}</text>')
        y += step
    # x ticks: every measured connection count.
    for x in xs:
        xx = px(x)
        o.append(f'<line x1="{xx:.1f}" y1="{top}" x2="{xx:.1f}" y2="{top + ph}" '
                 f'stroke="#f0f0f0" stroke-width="1"/>')
        o.append(f'<line x1="{xx:.1f}" y1="{top + ph}" x2="{xx:.1f}" y2="{top + ph + 5}" '
                 f'stroke="#333333"/>')
        o.append(f'<text x="{xx:.1f}" y="{top + ph + 19}" text-anchor="middle">{x}</text>')
    # Axes and their labels.
    o.append(f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="#333333"/>')
    o.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + ph}" stroke="#333333"/>')
    o.append(f'<text x="{left + pw / 2:.1f}" y="{H - 16}" text-anchor="middle">'
             f'concurrent connections (log scale)</text>')
    o.append(f'<text transform="translate(20 {top + ph / 2:.1f}) rotate(-90)" '
             f'text-anchor="middle">{escape(ylabel)}</text>')
    # One line per front end, with its points; legend on the right.
    spare = iter(SPARE)
    for i, (name, pts) in enumerate(series.items()):
        colour = COLOURS.get(name) or next(spare, "#333333")
        dash = DASHES.get(name, "")
        pts = sorted(pts)
        path = " ".join(f"{px(x):.1f},{py(v):.1f}" for x, v in pts)
        da = f' stroke-dasharray="{dash}"' if dash else ""
        o.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2.5"{da}/>')
        for x, v in pts:
            o.append(f'<circle cx="{px(x):.1f}" cy="{py(v):.1f}" r="3.5" fill="{colour}">'
                     f'<title>{escape(name)}: {fmt_int(v)} at {x} connections</title></circle>')
        ly = top + 14 + i * 22
        lx = left + pw + 18
        o.append(f'<line x1="{lx}" y1="{ly}" x2="{lx + 26}" y2="{ly}" stroke="{colour}" '
                 f'stroke-width="2.5"{da}/>')
        o.append(f'<circle cx="{lx + 13}" cy="{ly}" r="3.5" fill="{colour}"/>')
        o.append(f'<text x="{lx + 32}" y="{ly + 4}">{escape(name)}</text>')
    o.append("</svg>")
    return "\n".join(o) + "\n"


def relay_charts(meta, rows, out):
    """Writes the relay's SVGs into out; returns [(file name, alt text)]."""
    sub = (f"{meta.get('date', '?')}, {meta.get('nproc', '?')} cores, "
           f"{meta.get('openssl', '?')}, HAProxy {meta.get('haproxy', '-').split('-')[0]}, "
           f"nginx {meta.get('nginx', '-')}; mTLS both sides, {meta.get('workers', '?')} workers each")
    charts = []
    for mode, fname, title, ylabel in (
            ("keep-alive", "relay-keepalive.svg",
             "Passthrough relay: keep-alive throughput against connections", "requests/s (2xx)"),
            ("handshake", "relay-handshakes.svg",
             "Passthrough relay: full TLS handshakes against connections",
             "requests/s, a new connection each")):
        series = {}
        for r in rows:
            if r.get("mode") != mode:
                continue
            try:
                series.setdefault(r["front_end"], []).append(
                    (int(r["connections"]), float(r["req_per_s"])))
            except (KeyError, ValueError):
                continue
        if not series:
            continue
        with open(os.path.join(out, fname), "w", encoding="utf-8") as f:
            f.write(line_chart(series, title, ylabel, sub))
        charts.append((fname, title))
    return charts


def md_body(path):
    """A part's Markdown without its title line(s)."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().rstrip("\n").split("\n")
    while lines and (lines[0].startswith("#") or not lines[0].strip()):
        lines.pop(0)
    return "\n".join(lines)


def replace_section(doc, part, body):
    begin = f"<!-- BEGIN GENERATED {part} -->"
    end = f"<!-- END GENERATED {part} -->"
    i, j = doc.find(begin), doc.find(end)
    if i < 0 or j < i:
        raise ValueError(f"markers {begin} ... {end} not found")
    return doc[:i + len(begin)] + "\n" + body.rstrip("\n") + "\n" + doc[j:]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(ROOT, "build", "bench"))
    ap.add_argument("--doc", default=os.path.join(ROOT, "BENCHMARKS.md"))
    ap.add_argument("--charts", default=os.path.join(ROOT, "docs", "bench"))
    ap.add_argument("--no-docs", action="store_true")
    a = ap.parse_args()

    summary = read_summary(os.path.join(a.out, "summary.tsv"))
    ran = [p for p in PARTS if p in summary] if summary else list(PARTS)
    sections, charts, rc = {}, [], 0
    for part in ran:
        tsv, md = os.path.join(a.out, f"{part}.tsv"), os.path.join(a.out, f"{part}.md")
        if not (os.path.exists(tsv) and os.path.exists(md)):
            print(f"report: {part}: no table (build/bench/{part}.tsv, .md): its section stays",
                  file=sys.stderr)
            continue
        try:
            meta, _, rows = read_tsv(tsv)
            body = md_body(md)
        except (OSError, ValueError) as e:
            print(f"report: {part}: {e}", file=sys.stderr)
            rc = 1
            continue
        st = summary.get(part, 0)
        head = ""
        if st != 0:
            head = (f"**This part failed (exit {st}) in the run below: its figures are incomplete"
                    f" or suspect; see `build/bench/{part}.log`.**\n\n")
        if part == "relay":
            charts = relay_charts(meta, rows, a.out)
            imgs = "\n\n".join(f"![{alt}](docs/bench/{f})" for f, alt in charts)
            body = body + ("\n\n" + imgs if imgs else "")
        sections[part] = head + body
        print(f"report: {part}: {len(rows)} rows from {tsv}", file=sys.stderr)

    if a.no_docs:
        return rc
    if charts:
        os.makedirs(a.charts, exist_ok=True)
        for f, _ in charts:
            shutil.copyfile(os.path.join(a.out, f), os.path.join(a.charts, f))
            print(f"report: {os.path.join(a.charts, f)}", file=sys.stderr)
    try:
        with open(a.doc, encoding="utf-8") as f:
            doc = f.read()
        for part, body in sections.items():
            doc = replace_section(doc, part, body)
    except (OSError, ValueError) as e:
        print(f"report: {a.doc}: {e}", file=sys.stderr)
        return 1
    tmp = a.doc + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(doc)
    os.replace(tmp, a.doc)
    print(f"report: {a.doc}: regenerated {', '.join(sections) or 'nothing'}", file=sys.stderr)
    return rc


if __name__ == "__main__":
    sys.exit(main())
