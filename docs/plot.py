"""Draws the scaling charts in docs/ from the CSV files the benchmarks write.

    python3 docs/plot.py

reads docs/pipeline.csv (from `scripts/pipeline.sh --csv`) and
docs/wuserver.csv (from `cargo bench -p e2e --bench weather -- --csv`) and
writes docs/pipeline-speedup.svg and docs/wuserver-subscribers.svg. Plain
SVG from the standard library, so nothing needs installing. `scripts/charts.sh`
runs the benchmarks and this script together.
"""
import csv
import os
import sys

DOCS = os.path.dirname(os.path.abspath(__file__))
WIDTH, HEIGHT = 640, 400
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 40, 60
COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728"]


def read(name):
    with open(os.path.join(DOCS, name), newline="") as f:
        return list(csv.DictReader(f))


def svg(title, x_label, y_label, x_ticks, y_max, y_step, body, legend, legend_x=LEFT + 15):
    """A chart frame: axes, ticks, labels and legend around `body`, whose
    coordinates come from the x and y functions given to its builder."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{WIDTH / 2}" y="22" text-anchor="middle" font-size="15">{title}</text>',
    ]
    tick = 0.0
    while tick <= y_max + 1e-9:
        y = TOP + plot_h - tick / y_max * plot_h
        out.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{tick:g}</text>')
        tick += y_step
    for label, x in x_ticks:
        out.append(f'<text x="{x:.1f}" y="{TOP + plot_h + 18}" text-anchor="middle">{label}</text>')
    out.append(f'<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{TOP + plot_h}" stroke="black"/>')
    out.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" y2="{TOP + plot_h}" stroke="black"/>')
    out.append(f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 15}" text-anchor="middle">{x_label}</text>')
    out.append(f'<text transform="translate(18 {TOP + plot_h / 2}) rotate(-90)" text-anchor="middle">{y_label}</text>')
    out.extend(body)
    for i, (name, colour, dashed) in enumerate(legend):
        y = TOP + 10 + i * 18
        dash = ' stroke-dasharray="5 4"' if dashed else ""
        out.append(f'<line x1="{legend_x}" x2="{legend_x + 25}" y1="{y}" y2="{y}" stroke="{colour}" stroke-width="3"{dash}/>')
        out.append(f'<text x="{legend_x + 31}" y="{y + 4}">{name}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def pipeline_chart(rows):
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    workers = [int(row["workers"]) for row in rows]
    speedups = [float(row["speedup"]) for row in rows]
    most = max(workers)
    x = lambda n: LEFT + (n - 1) / max(most - 1, 1) * plot_w
    y = lambda v: TOP + plot_h - v / most * plot_h
    ideal = f'<line x1="{x(1):.1f}" y1="{y(1):.1f}" x2="{x(most):.1f}" y2="{y(most):.1f}" stroke="#999" stroke-width="2" stroke-dasharray="5 4"/>'
    points = " ".join(f"{x(n):.1f},{y(s):.1f}" for n, s in zip(workers, speedups))
    body = [ideal, f'<polyline points="{points}" fill="none" stroke="{COLOURS[0]}" stroke-width="3"/>']
    body += [f'<circle cx="{x(n):.1f}" cy="{y(s):.1f}" r="4" fill="{COLOURS[0]}"><title>{n} workers: {s:.2f}</title></circle>'
             for n, s in zip(workers, speedups)]
    ticks = [(n, x(n)) for n in workers]
    return svg("Pipeline speedup (expected cost / elapsed), 100 tasks", "workers", "speedup",
               ticks, most, 2, body, [("measured", COLOURS[0], False), ("ideal (one per worker)", "#999", True)])


def wuserver_chart(rows):
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    series = [name for name in rows[0] if name.endswith("ns_per_update")]
    counts = [row["subscribers"] for row in rows]
    rates = {name: [1000 / float(row[name]) for row in rows] for name in series}  # million/s
    top = max(max(values) for values in rates.values())
    step = 1 if top <= 12 else 2
    # Room above the tallest bar for its label and the legend.
    y_max = step * (int(top * 1.25 / step) + 1)
    group = plot_w / len(counts)
    bar = group * 0.7 / len(series)
    body = []
    for s, name in enumerate(series):
        for i, rate in enumerate(rates[name]):
            bx = LEFT + i * group + group * 0.15 + s * bar
            h = rate / y_max * plot_h
            body.append(f'<rect x="{bx:.1f}" y="{TOP + plot_h - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                        f'fill="{COLOURS[s]}"><title>{name}: {rate:.2f} M/s</title></rect>')
            body.append(f'<text x="{bx + bar / 2:.1f}" y="{TOP + plot_h - h - 4:.1f}" text-anchor="middle" font-size="10">{rate:.1f}</text>')
    ticks = [(c, LEFT + (i + 0.5) * group) for i, c in enumerate(counts)]
    legend = [(name.replace("_ns_per_update", ""), COLOURS[s], False) for s, name in enumerate(series)]
    return svg("Weather updates published per second (millions)", "subscribers, each on its own zip code",
               "million updates / s", ticks, y_max, step, body, legend, legend_x=WIDTH - RIGHT - 130)


def main():
    made = []
    for source, chart, target in [("pipeline.csv", pipeline_chart, "pipeline-speedup.svg"),
                                  ("wuserver.csv", wuserver_chart, "wuserver-subscribers.svg")]:
        if not os.path.exists(os.path.join(DOCS, source)):
            print(f"plot.py: no docs/{source}, skipping {target}", file=sys.stderr)
            continue
        with open(os.path.join(DOCS, target), "w") as f:
            f.write(chart(read(source)))
        made.append(target)
    print("wrote", ", ".join(f"docs/{name}" for name in made) or "nothing")


main()
