"""What every figure shares: matplotlib (the ``plot`` extra), axes, log scales, saving."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InputError, MissingExtraError

FORMATS = ("png", "svg", "pdf")
SIZE = (6.4, 4.4)  # inches: one figure a laptop screen and a printed page both hold
WIDE = (11.0, 4.4)  # two panes side by side
BAND = dict(alpha=0.22, linewidth=0)


def matplotlib():
    """The matplotlib package, or an ImportError that names the extra to install."""
    try:
        import matplotlib as mpl
    except ImportError:  # pragma: no cover - the extra is installed in every test environment
        raise MissingExtraError("figures need matplotlib: pip install 'scalinglaws[plot]'") from None
    return mpl


def figure(fig=None, size=SIZE):
    """``fig``, or a new pyplot figure (shown by Jupyter and ``plt.show()``) when called from user
    code. Servers and reports pass their own (`new_figure`), which need no pyplot."""
    if fig is not None:
        return fig
    matplotlib()
    import matplotlib.pyplot as plt

    return plt.figure(figsize=size, layout="constrained")


def axes(ax=None, size=SIZE):
    """``ax``, or new axes on a new pyplot figure (see `figure`)."""
    return ax if ax is not None else figure(None, size).add_subplot()


def new_figure(size=SIZE):
    """A figure of its own, outside pyplot's registry (safe in threads)."""
    matplotlib()
    from matplotlib.figure import Figure

    return Figure(figsize=size, layout="constrained")


def new_axes(size=SIZE):
    """Axes on a figure of their own (`new_figure`)."""
    return new_figure(size).add_subplot()


def log_axis(ax, axis: str, values) -> None:
    """A log scale on ``axis`` ("x" or "y") when every value is positive."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if v.size and np.all(v > 0):
        (ax.set_xscale if axis == "x" else ax.set_yscale)("log")


def save(figure, path: str | Path, *, dpi: int = 150) -> Path:
    """Write ``figure`` (a Figure, or Axes of one) to ``path``; its suffix says the format."""
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise InputError(f"--out must end in .{', .'.join(FORMATS)} (the figure's format); got {str(path)!r}")
    try:
        figure_of(figure).savefig(path, format=fmt, dpi=dpi)
    except OSError as exc:
        raise InputError(f"--out must be a writable path; got {str(path)!r} ({exc.strerror or exc})") from None
    return path


def figure_of(thing):
    """The Figure of a Figure, of Axes, or of an array of Axes."""
    if isinstance(thing, np.ndarray):
        thing = thing.flat[0]
    return thing if hasattr(thing, "savefig") else thing.figure


def svg(figure) -> str:
    """The figure as an inline SVG element (for HTML: no file, no network)."""
    import io

    buffer = io.StringIO()
    figure_of(figure).savefig(buffer, format="svg")
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def given_columns(fit, runs) -> dict[str, str]:
    """The fit's input -> column map for drawing ``runs`` again: inputs the fit derived (the schedule
    areas S1, S2 of `data.schedules`, not columns of the table) are left to be derived again."""
    columns = set(getattr(runs, "columns", ()))
    return {k: v for k, v in fit.columns.items() if v in columns}


def law_label(fit) -> str:
    """What forecasts: the law, or for ``--law auto`` with rivals the weighted average it is."""
    weights = fit.selection.weights() if fit.selection is not None else {}
    if len(weights) < 2:
        return fit.law.name
    return f"{fit.law.name} averaged with {', '.join(k for k in weights if k != fit.law.name)} (weights " \
        + ", ".join(f"{v:.2f}" for v in weights.values()) + ")"


def plain_text(draw):
    """Draw with text taken as it is: a `$` or a backslash in a column name is not mathtext or LaTeX
    (a crash, or a local file pulled into a shared figure by ``\\input``)."""
    import functools

    @functools.wraps(draw)
    def drawn(*args, **kwargs):
        mpl = matplotlib()
        with mpl.rc_context({"text.parse_math": False, "text.usetex": False}):
            result = draw(*args, **kwargs)
        fig = figure_of(result)
        texts = [fig._suptitle] if getattr(fig, "_suptitle", None) is not None else []
        for ax in fig.axes:  # labels made with the axes, before the context (tick labels keep their math)
            texts += [ax.title, ax._left_title, ax._right_title, ax.xaxis.label, ax.yaxis.label]
            legend = ax.get_legend()
            if legend is not None:
                texts += [*legend.get_texts(), legend.get_title()]
        for text in texts:
            text.set_parse_math(False)
            text.set_usetex(False)
        return result

    return drawn


def scale_label(law) -> str:
    """What `nested.scale_of` orders runs by, in words."""
    logs = [n for n in law.inputs if n in law.log_inputs]
    if len(logs) == 1:
        return logs[0]
    if not logs:
        return law.inputs[0]
    return " x ".join(("1/" if n in law.falling_inputs else "") + n for n in logs)
