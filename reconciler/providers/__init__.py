"""Providers: each reads live customers from one billing API and applies changes to it."""
