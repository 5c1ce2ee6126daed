"""Figures: forecast trajectories, error distributions, loss curves (matplotlib, Agg)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: str | os.PathLike) -> Path:
    """Lay out, write (110 dpi, parent folders created) and close ``fig``; return the path.

    Every text is drawn as written: series ids and labels come from users' files, and
    matplotlib would read ``$\\USD$`` as TeX and fail (the figures use no math)."""
    from matplotlib.text import Text

    plt = pyplot()
    ticks = {  # matplotlib's own tick labels use math text (10^k on a log axis): kept
        id(t)
        for ax in fig.axes
        for axis in (ax.xaxis, ax.yaxis)
        for t in [*axis.get_ticklabels(which="both"), axis.get_offset_text()]
    }
    for text in fig.findobj(Text):
        if id(text) not in ticks:
            text.set_parse_math(False)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_heatmap(
    path: str | os.PathLike,
    values: np.ndarray,
    xticks: Sequence[str],
    yticks: Sequence[str],
    xlabel: str,
    ylabel: str,
    label: str,
    title: str = "",
) -> Path:
    """A heat-map of ``values`` (shape ``(len(yticks), len(xticks))``, NaN = missing), cells annotated."""
    plt = pyplot()
    ny, nx = values.shape
    fig, ax = plt.subplots(figsize=(1.6 + 1.3 * nx, 1.4 + 0.8 * ny))
    im = ax.imshow(values, cmap="viridis_r", aspect="auto")
    ax.set_xticks(range(nx), list(xticks))
    ax.set_yticks(range(ny), list(yticks))
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    for i in range(ny):
        for j in range(nx):
            if np.isfinite(values[i, j]):
                ax.text(
                    j, i, f"{values[i, j]:.3f}", ha="center", va="center", color="white", fontsize=8
                )
    fig.colorbar(im, ax=ax, label=label)
    if title:
        ax.set_title(title, fontsize=9)
    return save_figure(fig, path)


def plot_forecast(
    path: str | os.PathLike,
    time: np.ndarray,
    context: np.ndarray,
    truth: np.ndarray | None,
    forecasts: dict[str, np.ndarray],
    variables: Sequence[str],
    band: tuple[np.ndarray, np.ndarray] | None = None,
    title: str = "",
    band_label: str = "10–90 % band",
) -> Path:
    """One panel per variable: context, truth, each forecaster, optional quantile band.

    Args:
        time: ``(C + H,)`` sample times.
        context: ``(C, V)``; truth: ``(H, V)`` or None (a forecast of the future);
            forecasts: name → ``(H, V)``.
        band: ``(lo, hi)`` each ``(H, V)`` (e.g. the 10–90 % sample quantiles).
    """
    plt = pyplot()
    c = context.shape[0]
    fig, axes = plt.subplots(len(variables), 1, figsize=(8, 2.6 * len(variables)), sharex=True)
    axes = np.atleast_1d(axes)
    for i, (ax, name) in enumerate(zip(axes, variables, strict=True)):
        ax.plot(time[:c], context[:, i], color="black", lw=1.2, label="context")
        if truth is not None:
            ax.plot(time[c:], truth[:, i], color="black", lw=1.4, ls="--", label="truth", zorder=5)
        for j, (label, fc) in enumerate(forecasts.items()):
            ax.plot(time[c:], fc[:, i], lw=1.2, color=f"C{j}", label=label, zorder=4 - j)
        if band is not None:
            ax.fill_between(
                time[c:], band[0][:, i], band[1][:, i], color="C0", alpha=0.2, label=band_label
            )
        ax.axvline(time[c - 1], color="grey", lw=0.6)
        ax.set_ylabel(name)
    axes[0].legend(fontsize=7, ncol=3, loc="upper left")
    axes[-1].set_xlabel("time")
    if title:
        axes[0].set_title(title, fontsize=9)
    return save_figure(fig, path)


def plot_error_hist(
    path: str | os.PathLike, errors: dict[str, np.ndarray], variables: Sequence[str]
) -> Path:
    """Histograms of per-window MAE, one panel per variable, one series per forecaster.

    Args:
        errors: forecaster name → ``(N, V)`` per-window MAE.
    """
    plt = pyplot()
    fig, axes = plt.subplots(1, len(variables), figsize=(4.2 * len(variables), 3.2))
    axes = np.atleast_1d(axes)
    for i, (ax, name) in enumerate(zip(axes, variables, strict=True)):
        allv = np.concatenate([e[:, i] for e in errors.values()])
        bins = np.linspace(0, max(float(np.nanmax(allv)), 1e-9), 21)
        for label, e in errors.items():
            # one filled outline per forecaster, not 20 bar patches: a figure of 4 forecasters
            # took 0.161 s against 0.254 (medians of 6 interleaved rounds, 2-core Intel Xeon,
            # a training run beside them), and reads the same
            ax.hist(e[:, i], bins=bins, alpha=0.5, label=label, histtype="stepfilled")
        ax.set_title(f"{name}: per-trajectory MAE", fontsize=9)
        ax.set_xlabel("MAE (original units)")
    axes[0].set_ylabel("trajectories")
    axes[0].legend(fontsize=7)
    return save_figure(fig, path)


def plot_curves(
    path: str | os.PathLike,
    series: dict[str, tuple[Sequence[float], Sequence[float]]],
    xlabel: str,
    ylabel: str,
    title: str = "",
    logx: bool = False,
) -> Path:
    """Line plot of named ``(x, y)`` series (loss curves, context-length study)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for label, (x, y) in series.items():
        ax.plot(x, y, marker="o" if len(x) < 20 else None, ms=3, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logx:
        ax.set_xscale("log")
    if title:
        ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def plot_samples(
    path: str | os.PathLike, series: Sequence[tuple[str, np.ndarray]], cols: int = 3
) -> Path:
    """One small panel per ``(title, values (T,))``, ``cols`` panels a row."""
    plt = pyplot()
    rows = max(1, -(-len(series) // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.6 * cols, 2.2 * rows), squeeze=False)
    for ax, (title, y) in zip(axes.flat, series, strict=False):
        ax.plot(np.asarray(y), lw=0.9)
        ax.set_title(title[:48], fontsize=7)
        ax.tick_params(labelsize=6)
    for ax in list(axes.flat)[len(series) :]:
        ax.axis("off")
    return save_figure(fig, path)
