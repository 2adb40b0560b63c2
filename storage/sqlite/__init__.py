"""The embedded store (SQLite) and its query compiler."""
