"""Learning curves redrawn while ``cnnlab.train.fit`` runs in a notebook (``live_plot=True``). Lesson 04."""

from __future__ import annotations

from .training import plot_history

__all__ = ["LivePlot"]


class LivePlot:
    """Redraws the learning curves under the progress bar in a notebook (does nothing elsewhere).

    The figure lives in one display area that is updated in place (an IPython display id), so
    the progress bar above it stays, which ``clear_output`` would wipe.
    """

    def __init__(self, enabled: bool):
        self.enabled = enabled and _in_notebook()
        self.handle = None

    def update(self, history) -> None:
        """Draw ``history`` (a ``cnnlab.train.History``) in place of the previous drawing."""
        if not self.enabled:
            return
        import matplotlib.pyplot as plt
        from IPython.display import display

        fig = plot_history(history)
        if self.handle is None:
            self.handle = display(fig, display_id=True)
        else:
            self.handle.update(fig)
        plt.close(fig)


def _in_notebook() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"
