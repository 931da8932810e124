"""LiteLLM proxy customers ("end users" with budgets): field specs, client, emulator, provider.

Self-contained: nothing outside this package names it yet. ``fields`` is pure data, ``client``
talks to a proxy, ``emulator`` serves one, ``provider`` implements ``providers.base.Provider``.
"""
