"""``python -m reconciler`` runs the same program as the ``reconciler`` console script."""

from reconciler.cli import run

run()
