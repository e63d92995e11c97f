"""Lay the generated module out from templates, format it, list what it imports."""
