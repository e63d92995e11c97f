"""The archive: write and read its members, audit and load its module, describe it.

Only :mod:`snapshot.archive.loader` imports Keras; the rest reads archives on a
machine without it.
"""
