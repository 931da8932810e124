"""Autumn customers API: field specs, schema fragment, client, emulator and provider.

The package's ``plugin`` module is its ``reconciler.providers`` entry point.
"""
