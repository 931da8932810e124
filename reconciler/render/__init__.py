"""Plan renderers: small interchangeable functions from a ``Plan`` to text for one audience.

``text`` for a terminal, ``markdown`` for pull requests, ``json`` for scripts and saved plans.
"""

from reconciler.render.json import render_json
from reconciler.render.markdown import render_markdown
from reconciler.render.text import render_text

__all__ = ["render_json", "render_markdown", "render_text"]
