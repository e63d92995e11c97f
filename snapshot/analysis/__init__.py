"""Read the model's source code: find it, index it, follow its names, rewrite it.

locate -> modules -> parse -> scopes -> collect (resolution, reachability,
ordering) -> rewrite. Nothing here imports the user's code or runs it, except
``locate.import_target`` for a command-line target.
"""
