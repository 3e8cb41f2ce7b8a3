"""The device store: one SQLite database per signed-in user, on sqlite-utils (see storage/store.py)."""
