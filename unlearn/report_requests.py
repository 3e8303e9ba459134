"""The report's section on deletion requests (unlearn/requests.py), under a table whose runs had them.

| part | what it shows |
|---|---|
| a table per request i | after request i: each request's own forget accuracy so far (R1..Ri ↓), retain (images under no request), others, every zero-shot suite and the score, per sequential method; the original model first; the batch runs beside the sequential ones in the last table |
| held after the last request | per method and mode: the worst request's forget accuracy as a % of its accuracy before, retain as a % of before, and whether both hold: every request ≤ `HELD_FORGET` % and retain ≥ `HELD_RETAIN` % |
| `requests.csv` | one line per table, backbone, method row and request i (0: the original; a batch row only at the last): every measured key's mean, its interval's half-width and n |
| `requests_<table>_<backbone>.png` | each request's forget accuracy against the number of requests made, one panel per sequential method (the batch run's as crosses at the end, each in its request's colour), and retain and the suites' mean against it, methods side by side |

Cells are mean ± the half-width of the 95 % t interval over the runs' units (unlearn/stats.py), in %.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from unlearn.plotting import figure, save_png
from unlearn.results import RunResult
from unlearn.stats import estimate

HELD_FORGET = 10.0  # % of a request's accuracy before: it stays forgotten
HELD_RETAIN = 90.0  # % of retain accuracy before: the model is kept
PANELS_PER_LINE = 5


def sequential(row) -> bool:
    return bool(row.runs) and all(run.result.requests for run in row.runs)


def batch(row) -> bool:
    return bool(row.runs) and all(not run.result.requests and run.config is not None
                                  and OmegaConf.select(run.config, "requests") for run in row.runs)


def blocks(table):
    """(backbone, its sequential rows, its batch rows) for every backbone of the table with sequential rows."""
    for backbone in dict.fromkeys(row.backbone for row in table.rows):
        mine = [r for r in table.rows if r.backbone == backbone and r.kind == "ours"]
        seq = [r for r in mine if sequential(r)]
        if seq:
            yield backbone, seq, [r for r in mine if batch(r)]


def steps(row) -> list[RunResult]:
    """The first run's result after each request, in order (names and counts)."""
    done = row.runs[0].result.requests
    return [done[str(i)] for i in range(1, len(done) + 1)]


def _cell(values: list[float]) -> str:
    values = [100.0 * v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
    if not values:
        return "–"
    found = estimate(values)
    return f"{found.mean:.1f}" if found.half_width is None else f"{found.mean:.1f} ± {found.half_width:.1f}"


def _measured(results: list[RunResult], key: str, phase: str = "after") -> list[Any]:
    return [getattr(r, phase).get(key) for r in results]


def request_lines(table, plots: list[Path]) -> list[str]:
    """Markdown: the per-request tables and the held summary, per backbone; [] without sequential rows."""
    lines: list[str] = []
    for backbone, seq, bat in blocks(table):
        names = [step.forget for step in steps(seq[0])]
        suites = sorted(k for k in seq[0].runs[0].result.after if k.startswith("zeroshot/"))
        lines += [f"### Requests one after another · {backbone}", "",
                  "Requests: " + ", ".join(f"R{i} `{name}`" for i, name in enumerate(names, 1)) + ". Accuracy in % "
                  "after each request (R<j>: request j's own forget images; Retain: images under no request), mean ± "
                  "the half-width of the 95 % t interval over n units; batch: every request at once, in the last table.",
                  ""]
        for i in range(1, len(names) + 1):
            keys = [*(f"forget/{j}/acc" for j in range(1, i + 1)), "retain/acc", "others/acc", *suites]
            header = ["Method", "n", *(f"R{j} ↓" for j in range(1, i + 1)), "Retain ↑", "Others ↑",
                      *(f"{k.removeprefix('zeroshot/').removesuffix('/acc')} ↑" for k in suites), "Score ↑"]
            lines += [f"After request {i} of {len(names)} (`{names[i - 1]}`):", "", "| " + " | ".join(header) + " |",
                      "|" + "---|" * len(header)]
            firsts = [run.result.requests[str(i)] for run in seq[0].runs]
            lines.append("| original (before) | " + f"{len(firsts)} | "
                         + " | ".join(_cell(_measured(firsts, k, "before")) for k in keys) + " | – |")
            shown = [(row, [run.result.requests[str(i)] for run in row.runs]) for row in seq]
            if i == len(names):
                shown += [(row, [run.result for run in row.runs]) for row in bat]
            for row, results in shown:
                score = [r.aggregates.get("score") / 100.0 for r in results if r.aggregates.get("score") is not None]
                lines.append(f"| {row.label} | {len(results)} | "
                             + " | ".join(_cell(_measured(results, k)) for k in keys) + f" | {_cell(score)} |")
            lines.append("")
        lines += held_lines(seq + bat, len(names))
        lines += [f"![{path.stem}]({path.name})" for path in plots if path.stem.endswith(f"_{backbone}")] + [""]
    return lines


def csv_rows(tables: list) -> tuple[list[str], list[list]]:
    """requests.csv (module docstring); no rows without sequential runs."""
    found = []
    for table in tables:
        for backbone, seq, bat in blocks(table):
            count = len(steps(seq[0]))
            found.append((table, backbone, "original (before)", 0, [run.result.requests["1"] for run in seq[0].runs],
                          "before"))
            found += [(table, backbone, row.label, i, [run.result.requests[str(i)] for run in row.runs], "after")
                      for row in seq for i in range(1, count + 1)]
            found += [(table, backbone, row.label, count, [run.result for run in row.runs], "after") for row in bat]
    keys = sorted({k for *_, results, phase in found for r in results for k in getattr(r, phase)})
    header = ["dataset", "forget", "backbone", "method", "request", "n"] + [f"{k} {part}" for k in keys
                                                                            for part in ("mean", "half_width")]
    rows = []
    for table, backbone, label, i, results, phase in found:
        cells = []
        for key in keys:
            values = [100.0 * v for v in _measured(results, key, phase) if isinstance(v, (int, float)) and math.isfinite(v)]
            mean = estimate(values) if values else None
            cells += [mean.mean if mean else "", mean.half_width if mean and mean.half_width is not None else ""]
        rows.append([table.dataset, table.forget, backbone, label, i, len(results), *cells])
    return header, rows


def held(result: RunResult, count: int) -> tuple[float, float]:
    """(the worst request's forget accuracy, retain accuracy), each in % of the original's."""
    final = result.requests[str(count)] if result.requests else result
    worst = max(_share(final.after[f"forget/{j}/acc"], final.before[f"forget/{j}/acc"]) for j in range(1, count + 1))
    return worst, _share(final.after["retain/acc"], final.before["retain/acc"])


def _share(after: float, before: float) -> float:
    return 100.0 * after / before if before else math.nan


def held_lines(rows: list, count: int) -> list[str]:
    lines = [f"After the last request: the worst request's forget accuracy and retain accuracy as % of the original's; "
             f"held: every request ≤ {HELD_FORGET:g} % and retain ≥ {HELD_RETAIN:g} % (means over the units).", "",
             "| Method | n | worst request, % of before ↓ | retain, % of before ↑ | held |", "|---|---|---|---|---|"]
    for row in rows:
        worst, retain = zip(*(held(run.result, count) for run in row.runs))
        mean_worst, mean_retain = sum(worst) / len(worst), sum(retain) / len(retain)
        verdict = "yes" if mean_worst <= HELD_FORGET and mean_retain >= HELD_RETAIN else "no"
        lines.append(f"| {row.label} | {len(worst)} | {_cell([w / 100 for w in worst])} | "
                     f"{_cell([r / 100 for r in retain])} | {verdict} |")
    return lines + [""]


def plot_requests(table, colours: dict[str, str], out: Path) -> list[Path]:
    """One figure per backbone with sequential rows (module docstring)."""
    paths = []
    for backbone, seq, bat in blocks(table):
        count, panels = len(steps(seq[0])), len(seq) + 2
        columns = min(panels, PANELS_PER_LINE)
        fig = figure(3.2 * columns, 3.4 * math.ceil(panels / columns))
        grid = fig.subplots(math.ceil(panels / columns), columns, squeeze=False).flatten()
        for unused in grid[panels:]:
            unused.set_visible(False)
        axes = grid[:panels]
        x = list(range(count + 1))
        for ax, row in zip(axes, seq):
            twin = next((b for b in bat if b.method == row.method), None)
            for j in range(1, count + 1):
                (line,) = ax.plot(x, _curve(row, f"forget/{j}/acc"), marker="o", markersize=3, label=f"R{j}")
                if twin is not None:  # the batch run's R<j>, in R<j>'s colour
                    ax.plot([count], [_mean([r.result.after[f"forget/{j}/acc"] for r in twin.runs])], marker="x",
                            markersize=8, color=line.get_color(), linestyle="none", label="batch" if j == 1 else None)
            ax.set_title(row.label, fontsize=8)
            ax.set_xlabel("requests made")
            ax.set_ylabel("forget accuracy %  ↓")
        for ax, (key, title) in zip(axes[len(seq):], (("retain/acc", "retain %  ↑"), ("zeroshot", "suites (mean) %  ↑"))):
            for row in seq:
                ax.plot(x, _curve(row, key), marker="o", markersize=3, color=colours.get(row.method), label=row.label)
            for row in bat:
                ax.plot([count], [_mean([_value(r.result.after, key) for r in row.runs])], marker="x",
                        color=colours.get(row.method), linestyle="none")
            ax.set_title(f"{title} (x: batch)", fontsize=8)
            ax.set_xlabel("requests made")
        for ax in axes:
            ax.set(ylim=(-4, 104), xticks=x)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=6)
        fig.suptitle(f"{table.dataset} · {backbone}", fontsize=9)
        paths.append(save_png(fig, out / f"requests_{table.slug}_{backbone}.png", dpi=100))
    return paths


def _value(metrics: dict, key: str) -> float:
    """A key's value, or for `zeroshot` the mean over the suites."""
    if key != "zeroshot":
        return metrics[key]
    suites = [v for k, v in metrics.items() if k.startswith("zeroshot/")]
    return sum(suites) / len(suites) if suites else math.nan


def _mean(values: list[float]) -> float:
    return 100.0 * sum(values) / len(values)


def _curve(row, key: str) -> list[float]:
    """The row's mean over its runs at 0 (the original) and after each request, in %."""
    count = len(steps(row))
    points = [_mean([_value(run.result.requests["1"].before, key) for run in row.runs])]
    return points + [_mean([_value(run.result.requests[str(i)].after, key) for run in row.runs])
                     for i in range(1, count + 1)]
