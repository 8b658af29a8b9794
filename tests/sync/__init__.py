# GENERATED from tests/aio/__init__.py by scripts/unasync.py: do not edit.
