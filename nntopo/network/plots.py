"""Figures of a trained network: its activations and its weights."""

from __future__ import annotations


import numpy as np
from matplotlib.figure import Figure
from nntopo.plotting import (
    NEAR_ZERO,
    new_figure,
    no_data,
)


def activation_distributions(hidden: np.ndarray, output: np.ndarray, title: str = "", bins: int = 60) -> Figure:
    """Histograms of one hidden layer's activations (after the activation function) and of the logits.

    Panels: the hidden activations: for ReLU the positive ones (exact zeros, the silent units, are
    counted in the panel's note, not in the bars), for a signed activation (tanh, leaky ReLU) all
    nonzero ones, the inactive share (<= 0) in the note; each neuron's activity rate (share of test
    points where it is > 0, active as the rankings count it); the logits, the predicted class's apart
    from the others. Counts on a log scale.
    """
    hidden = np.asarray(hidden)
    output = np.asarray(output)
    fig = new_figure(14, 4.2)
    ax_h, ax_rate, ax_out = fig.subplots(1, 3)
    n_points, width = hidden.shape

    signed = bool((hidden < 0).any())
    shown = hidden[hidden != 0] if signed else hidden[hidden > 0]
    inactive_share = float((hidden <= 0).mean()) if hidden.size else 1.0
    if shown.size:
        counts, edges = np.histogram(shown, bins=bins)
        ax_h.stairs(counts, edges, fill=True, color="tab:blue", alpha=0.8)
        ax_h.set_yscale("log")
    else:
        no_data(ax_h, "no positive activation")
    active = hidden > 0
    rate = active.mean(axis=0) if n_points else np.zeros(width)
    never = int(np.sum(~active.any(axis=0))) if n_points else width
    always = int(np.sum(active.all(axis=0))) if n_points else 0
    note = ("inactive (<= 0): " if signed else "exact zeros (silent ReLUs): ") + f"{inactive_share:.1%}"
    ax_h.text(0.97, 0.95,
              f"{note}\nof {n_points:,} points x {width:,} neurons" + ("" if signed else "\n(not in the bars)"),
              transform=ax_h.transAxes, ha="right", va="top", fontsize=9,
              bbox=dict(facecolor="white", alpha=0.85, edgecolor="0.7"))
    ax_h.set(title="hidden activations (nonzero)" if signed else "hidden activations > 0",
             xlabel="activation (after the activation function)", ylabel="count (log)")

    ax_rate.hist(rate, bins=np.linspace(0, 1, 41), color="tab:green", alpha=0.85)
    ax_rate.set(title="neuron activity rate", xlabel="share of test points on which the neuron is > 0",
                ylabel="neurons")
    ax_rate.text(0.97, 0.95, f"never active: {never} of {width}\nalways active: {always}",
                 transform=ax_rate.transAxes, ha="right", va="top", fontsize=9,
                 bbox=dict(facecolor="white", alpha=0.85, edgecolor="0.7"))

    if output.size:
        predicted = output.max(axis=1)
        others_mask = np.ones(output.shape, dtype=bool)
        others_mask[np.arange(len(output)), output.argmax(axis=1)] = False
        edges = np.histogram_bin_edges(output, bins=bins)
        ax_out.stairs(np.histogram(output[others_mask], edges)[0], edges, fill=True, color="0.55", alpha=0.7,
                      label="other classes")
        ax_out.stairs(np.histogram(predicted, edges)[0], edges, fill=True, color="tab:orange", alpha=0.7,
                      label="predicted class (max)")
        ax_out.set_yscale("log")
        ax_out.set_ylim(0.5, ax_out.get_ylim()[1] * 30)  # room for the legend above the bars
        ax_out.legend(fontsize=9, loc="upper left")
    else:
        no_data(ax_out)
    ax_out.set(title=f"output logits ({output.shape[1] if output.ndim == 2 else 0} classes)", xlabel="logit",
               ylabel="count (log)")
    fig.suptitle(title or "activations on the test set", fontsize=13)
    return fig


def weight_distributions(layers: dict, title: str = "", near_zero: float = NEAR_ZERO, bins: int = 100) -> Figure:
    """One histogram per layer of its weights (log counts), with its size, L2 norm and near-zero share.

    ``layers`` maps a layer name to its weight matrix (or to anything with a ``.weight``, such as
    ``nntopo.store.Layer``).
    """
    names = list(layers)
    fig = new_figure(max(4.5 * len(names), 6), 4.2)
    axes = np.atleast_1d(fig.subplots(1, max(len(names), 1)))
    if not names:
        no_data(axes[0], "no layers")
    for ax, name in zip(axes, names):
        w = np.asarray(getattr(layers[name], "weight", layers[name]), dtype=np.float64).ravel()
        if w.size == 0:
            no_data(ax)
            continue
        limit = float(np.abs(w).max()) or 1.0
        counts, edges = np.histogram(w, bins=bins, range=(-limit, limit))
        ax.stairs(counts, edges, fill=True, color="tab:purple", alpha=0.8)
        ax.axvline(0, color="k", lw=0.6)
        ax.set_yscale("log")
        shape = "x".join(str(s) for s in np.shape(getattr(layers[name], "weight", layers[name])))
        ax.set(title=f"{name} ({shape})", xlabel="weight", ylabel="count (log)")
        ax.text(0.97, 0.95,
                f"{w.size:,} weights\nL2 norm {np.linalg.norm(w):.2f}\n"
                f"|w| < {near_zero:g}: {np.mean(np.abs(w) < near_zero):.1%}",
                transform=ax.transAxes, ha="right", va="top", fontsize=9,
                bbox=dict(facecolor="white", alpha=0.85, edgecolor="0.7"))
    fig.suptitle(title or "weight distributions", fontsize=13)
    return fig
