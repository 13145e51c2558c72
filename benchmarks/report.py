"""Turning a run into a terminal table, JSON, a PNG chart and a README snippet."""

# ruff: noqa: PLC0415 - optional drivers and anchors are imported where used, so a missing one is skipped

from __future__ import annotations

import json
import os
from typing import Any

from .wsgi import SCENARIOS

ANCHOR_BASE = {"beaker": "bare", "beaker-file": "bare", "flask-session": "flask-bare", "django": "django-bare"}


def main_rows(rows: list[dict[str, Any]]) -> dict[tuple[str, str, str], dict[str, Any]]:
    """The per-store scenario rows (default payload, no scale), by (store, scenario, stack)."""
    return {(r["store"], r["scenario"], r["stack"]): r for r in rows if r["sessions"] is None}


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One line per store and scenario: ours, the floor, the ratio, and each anchor.

    ``over_bare_us`` is what our session layer adds to the bare WSGI app. For an anchor,
    ``x_slower`` compares what its session layer adds to its own framework's floor with
    what ours adds to the bare app: the cost of the session layer alone.
    """
    by_key = main_rows(rows)
    bases = {r["stack"]: r["median_us"] for r in rows if r["store"] == "-"}
    bare = bases.get("bare", 0.0)
    lines = []
    for store in dict.fromkeys(r["store"] for r in rows if r["store"] != "-"):
        for scenario in SCENARIOS:
            ours, floor = by_key.get((store, scenario, "wsgisession")), by_key.get((store, scenario, "floor"))
            if ours is None:
                continue
            line: dict[str, Any] = {
                "store": store,
                "scenario": scenario,
                "ours_us": ours["median_us"],
                "ours_p99_us": ours["p99_us"],
                "floor_us": floor["median_us"] if floor else None,
                "ratio": round(ours["median_us"] / floor["median_us"], 2) if floor else None,
                "over_bare_us": round(ours["median_us"] - bare, 2),
                "anchors": {},
            }
            ours_cost = max(ours["median_us"] - bare, 0.1)
            for (s, sc, stack), row in by_key.items():
                if s == store and sc == scenario and stack in ANCHOR_BASE:
                    cost = row["median_us"] - bases.get(ANCHOR_BASE[stack], bare)
                    line["anchors"][stack] = {
                        "us": row["median_us"],
                        "cost_us": round(cost, 2),
                        # None when noise put the anchor below its own framework's floor
                        "x_slower": round(cost / ours_cost, 2) if cost > 0 else None,
                    }
            lines.append(line)
    return lines


def table(summary: list[dict[str, Any]], rows: list[dict[str, Any]]) -> str:
    """The terminal table (also valid Markdown)."""
    anchors = sorted({a for line in summary for a in line["anchors"]})
    head = ["store", "scenario", "ours µs (p99)", "floor µs", "ratio", "+bare µs"] + [f"{a} µs (x)" for a in anchors]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for line in summary:
        cells = [
            line["store"],
            line["scenario"],
            f"{line['ours_us']:.1f} ({line['ours_p99_us']:.0f})",
            "" if line["floor_us"] is None else f"{line['floor_us']:.1f}",
            "" if line["ratio"] is None else f"{line['ratio']:.2f}x",
            f"{line['over_bare_us']:.1f}",
        ]
        for anchor in anchors:
            found = line["anchors"].get(anchor)
            if found is None:
                cells.append("")
            else:
                slower = "n/a" if found["x_slower"] is None else f"{found['x_slower']:.1f}x"
                cells.append(f"{found['us']:.0f} ({slower})")
        out.append("| " + " | ".join(cells) + " |")
    bases = ", ".join(f"{r['stack']} {r['median_us']:.1f} µs" for r in rows if r["store"] == "-")
    out.append("")
    out.append(f"Floors of the frameworks (median per request): {bases}.")
    return "\n".join(out)


def scale_table(rows: list[dict[str, Any]]) -> str:
    """Read and write medians by sessions stored and by payload size."""
    scale = [r for r in rows if r["sessions"] is not None]
    if not scale:
        return ""
    out = ["| store | scenario | sessions (stored) | payload | median µs | p99 µs |", "|---|---|---|---|---|---|"]
    for r in scale:
        stored = r.get("stored")
        sessions = f"{r['sessions']:,}" + (f" ({stored:,})" if stored is not None else "")
        cells = [
            r["store"],
            r["scenario"],
            sessions,
            f"{r['payload']:,} B",
            f"{r['median_us']:.1f}",
            f"{r['p99_us']:.1f}",
        ]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def write_json(path: str, run: Any, summary: list[dict[str, Any]]) -> None:
    """Everything measured, as JSON."""
    document = {**run.extra, "skipped": run.skipped, "summary": summary, "rows": run.rows}
    with open(path, "w", encoding="utf-8") as out:
        json.dump(document, out, indent=1, default=str)
        out.write("\n")


def chart(path: str, summary: list[dict[str, Any]]) -> str | None:
    """A PNG of the ratio to the floor per store and scenario; the reason if it cannot be drawn."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed: pip install 'wsgisession[bench]'"
    stores = list(dict.fromkeys(line["store"] for line in summary))
    fig, ax = plt.subplots(figsize=(10, 4.5), dpi=100)
    width = 0.8 / max(len(stores), 1)
    for index, store in enumerate(stores):
        values = {line["scenario"]: line["ratio"] or 0 for line in summary if line["store"] == store}
        xs = [i + index * width for i in range(len(SCENARIOS))]
        ax.bar(xs, [values.get(s, 0) for s in SCENARIOS], width, label=store)
    ax.axhline(1.0, color="black", linewidth=0.8)
    ax.axhline(1.15, color="red", linewidth=0.8, linestyle="--", label="1.15x target")
    ax.set_xticks([i + width * (len(stores) - 1) / 2 for i in range(len(SCENARIOS))], list(SCENARIOS))
    ax.set_yscale("log")  # memory's floor is a dict lookup: its ratio dwarfs the others
    ax.set_ylabel("wsgisession ÷ raw driver floor (median, log)")
    ax.set_title("Per-request cost relative to the raw store round trips (lower is better)")
    ax.legend(fontsize=8, ncol=3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return None


def markdown(run: Any, summary: list[dict[str, Any]], chart_name: str | None) -> str:
    """The README section: machine, table, scale table, HTTP run, chart."""
    m = run.extra["machine"]
    parts = [
        f"Measured {run.extra['started']} on {m['cpu']} ({m['cores']} cores), {m['python']}, {m['os']}; "
        f"mode {run.extra['mode']}. Medians per request in µs (p99 in brackets), in-process WSGI calls.",
        "",
        table(summary, run.rows),
    ]
    scale = scale_table(run.rows)
    if scale:
        parts += ["", scale]
    http = run.extra.get("http")
    if http:
        parts += ["", http_table(http)]
    if run.skipped:
        parts += ["", "Skipped: " + "; ".join(f"{k}: {v}" for k, v in run.skipped.items())]
    if chart_name:
        parts += ["", f"![ratio to the raw driver floor](benchmarks/results/{chart_name})"]
    return "\n".join(parts) + "\n"


def http_table(http: list[dict[str, Any]]) -> str:
    """The gunicorn + wrk results."""
    out = ["| HTTP (gunicorn, 2 sync workers) | requests/s | p50 ms | p90 ms | p99 ms |", "|---|---|---|---|---|"]
    for r in http:
        if "error" in r:
            out.append(f"| {r['app']} | {r['error']} | | | |")
        else:
            out.append(f"| {r['app']} | {r['rps']:.0f} | {r['p50_ms']} | {r['p90_ms']} | {r['p99_ms']} |")
    return "\n".join(out)


def save_all(outdir: str, run: Any, stem: str) -> dict[str, str]:
    """Write JSON, PNG and Markdown into ``outdir``; return the paths."""
    os.makedirs(outdir, exist_ok=True)
    summary = summarize(run.rows)
    paths = {"json": os.path.join(outdir, f"{stem}.json"), "png": os.path.join(outdir, f"{stem}.png")}
    write_json(paths["json"], run, summary)
    problem = chart(paths["png"], summary)
    if problem:
        run.skipped["chart"] = problem
        del paths["png"]
    paths["md"] = os.path.join(outdir, f"{stem}.md")
    with open(paths["md"], "w", encoding="utf-8") as out:
        out.write(markdown(run, summary, None if problem else f"{stem}.png"))
    return paths
