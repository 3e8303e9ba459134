"""PNG figures without pyplot: a bare Figure on the Agg canvas (no global backend, no display),
saved atomically. Used by the souping a-curve and the report's plots."""

from __future__ import annotations

from pathlib import Path

from unlearn.io import atomic_write


def figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


def save_png(fig, path: Path, dpi: int) -> Path:
    fig.tight_layout()
    return atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=dpi))
