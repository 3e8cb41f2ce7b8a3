"""Adapters between the UI and the device store, the API client and the sync engine."""
