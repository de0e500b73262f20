"""Persistent storage for the studio: tables, repositories, migrations."""
