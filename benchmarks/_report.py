"""Write the results: ``results.json`` (raw), ``results.md`` (the table) and ``chart.png``."""

from __future__ import annotations

import dataclasses
import json
import textwrap
from pathlib import Path
from typing import Any

from ._common import BenchResult, Figure

__all__ = ["load", "merge", "write_chart", "write_markdown"]

# The rows on uvloop, and the other stream rows, follow the row they belong with.
ORDER = (
    "decode", "get_sequential", "get_sequential_uvloop", "get_concurrent",
    "get_concurrent_uvloop", "get_concurrent_gather", "get_concurrent_gather_uvloop", "stream",
    "stream_uvloop", "stream_large", "stream_large_uvloop", "stream_prefetch",
    "stream_prefetch_uvloop", "emulator", "dlt",
)  # fmt: skip


def to_dict(result: BenchResult, measured_at: str, quick: bool) -> dict[str, Any]:
    """A JSON-ready record of ``result``."""
    record = dataclasses.asdict(result)
    record["measured_at"] = measured_at
    record["quick"] = quick
    return record


def from_dict(record: dict[str, Any]) -> BenchResult:
    """The :class:`BenchResult` a record describes."""
    fields = {f.name for f in dataclasses.fields(BenchResult)}
    values = {key: value for key, value in record.items() if key in fields}
    values["ours"] = Figure(**values["ours"])
    values["peers"] = [Figure(**peer) for peer in values["peers"]]
    return BenchResult(**values)


def load(path: Path) -> dict[str, Any]:
    """The saved results (``{"machine": ..., "rows": {key: record}}``), or an empty record."""
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"runs": [], "rows": {}}
    if not isinstance(saved, dict) or not isinstance(saved.get("rows"), dict):
        return {"runs": [], "rows": {}}
    saved.setdefault("runs", [])
    return saved


def merge(saved: dict[str, Any], run: dict[str, Any], records: list[dict[str, Any]]
          ) -> dict[str, Any]:  # fmt: skip
    """``saved`` with ``records`` replacing the rows of the same key, and ``run`` recorded."""
    rows = dict(saved["rows"])
    for record in records:
        rows[record["key"]] = record
    ordered = {key: rows[key] for key in ORDER if key in rows}
    ordered.update({key: value for key, value in rows.items() if key not in ordered})
    runs = [r for r in saved["runs"] if r.get("measured_at") in
            {row["measured_at"] for row in ordered.values()}]  # fmt: skip
    runs.append(run)
    return {"runs": runs, "rows": ordered}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def write_markdown(data: dict[str, Any], path: Path) -> None:
    """The results table, then the details of each benchmark and the machine."""
    rows = data["rows"]
    lines = [
        "# Benchmark results",
        "",
        "Written by `python -m benchmarks` (see [index.md](index.md) for the method). Medians"
        " over the rounds; every figure in a row was measured in the same run, on the same"
        " machine.",
        "",
        "| benchmark | ours | peer(s) | ratio | target | met? |",
        "|---|---|---|---|---|---|",
    ]
    for record in rows.values():
        result = from_dict(record)
        peers = "<br>".join(
            _cell(f"{p.name}: {p.show()}" + (f" ({p.note})" if p.note else ""))
            for p in result.peers
        )
        ours = _cell(f"{result.ours.name}: {result.ours.show()}")
        if result.ours.note:
            ours += _cell(f" ({result.ours.note})")
        flag = "yes" if result.met else "**no**"
        if record.get("quick"):
            flag += " (quick run: sizes too small to judge)"
        lines.append(
            f"| {_cell(result.title)} | {ours} | {peers} | "
            f"{'<br>'.join(_cell(r) for r in result.ratios)} | {_cell(result.target)} |"
            f" {flag} |"
        )
    lines += ["", "![benchmark chart](chart.png)", ""]
    for record in rows.values():
        result = from_dict(record)
        lines += [
            f"## {result.title}",
            "",
            f"`{result.command}` (measured"
            f" {record['measured_at']}{', quick' if record.get('quick') else ''})",
            "",
        ]
        if result.details:
            lines += [result.details, ""]
        for note in result.notes:
            lines += [f"- {note}"]
        if result.notes:
            lines.append("")
    lines += ["## Machine", ""]
    for run in data["runs"]:
        lines.append(f"Run of {run['measured_at']} (`{run['command']}`):")
        lines.append("")
        lines += [f"- {key}: {value}" for key, value in run["machine"].items()]
        lines.append("")
    path.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")


FONT = 9  # points; the chart is drawn 8 inches wide, about the docs' text width


def _bar(ax: Any, result: BenchResult) -> None:
    chart = result.chart
    names = list(chart["values"])
    values = [chart["values"][name] for name in names]
    colors = ["tab:blue" if name.startswith("ours") else "tab:gray" for name in names]
    bars = ax.barh(range(len(names)), values, color=colors)
    ax.set_yticks(range(len(names)), [n.replace(" (", "\n(", 1) for n in names], fontsize=FONT)
    ax.invert_yaxis()
    labels = chart.get("labels", {})
    for bar, name, value in zip(bars, names, values, strict=True):
        text = f"{value:,.3g}" if value < 1000 else f"{value:,.0f}"
        if name in labels:
            text += f"  {labels[name]}"
        ax.annotate(
            text,
            (bar.get_width(), bar.get_y() + bar.get_height() / 2),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=FONT - 1,
        )
    ax.set_xlim(0, max(values) * 1.6)
    if "line" in chart:
        # Labelled where it is drawn, above the bars: a legend box would cover a bar's label.
        label, value = chart["line"]
        ax.axvline(value, color="tab:green", linestyle="--")
        ax.annotate(
            f"{label} {value:.3g}",
            (value, 1),
            xycoords=("data", "axes fraction"),
            xytext=(0, 2),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=FONT - 1,
            color="tab:green",
            annotation_clip=False,
        )
    ax.set_xlabel(chart["unit"], fontsize=FONT)


def _lines(ax: Any, result: BenchResult) -> None:
    chart = result.chart
    sizes = chart["sizes"]
    for name, series in chart["series"].items():
        ax.plot(sizes, series, marker="o", label=name)
    ax.set_xscale("log")
    ax.set_xticks(sizes, [f"{size:,}" for size in sizes])
    ax.minorticks_off()
    seed = ", ".join(f"{s:,} in {t:.1f} s" for s, t in zip(sizes, chart["seed"], strict=True))
    ax.set_xlabel(f"customers in the store (log scale); seeded {seed}", fontsize=FONT)
    ax.set_ylabel(chart["unit"], fontsize=FONT)
    top = max(max(series) for series in chart["series"].values())
    ax.set_ylim(0, top * 1.15)
    # Below the plot: inside it would cover the lines.
    ax.legend(
        fontsize=FONT - 1, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=3, frameon=False
    )


def write_chart(data: dict[str, Any], path: Path) -> None:
    """One panel per benchmark that has chart data, one above the other."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = [from_dict(record) for record in data["rows"].values()]
    results = [result for result in results if result.chart]
    quick = {key: bool(record.get("quick")) for key, record in data["rows"].items()}
    if not results:
        return
    heights = [max(2.0, 0.45 * len(result.chart.get("values", ())) + 1.2)
               if result.chart["kind"] != "lines" else 3.6 for result in results]  # fmt: skip
    fig, axes = plt.subplots(
        len(results),
        1,
        figsize=(8, sum(heights) + 0.4 * len(results)),
        squeeze=False,
        gridspec_kw={"height_ratios": heights},
        layout="constrained",
    )
    for ax, result in zip(axes.flat, results, strict=True):
        (_lines if result.chart["kind"] == "lines" else _bar)(ax, result)
        verdict = "target met" if result.met else "target MISSED"
        if quick.get(result.key):
            verdict = "quick run, sizes too small to judge"
        title = textwrap.fill(f"{result.title} ({verdict})", 75)
        ax.set_title(title, fontsize=FONT + 1, pad=14 if "line" in result.chart else 6)
        ax.tick_params(labelsize=FONT - 1)
    fig.suptitle("voucherify_async vs the vendor SDK and raw clients (medians)", fontsize=FONT + 3)
    fig.savefig(path, dpi=150)
    plt.close(fig)
