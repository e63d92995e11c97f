"""``python -m snapshot`` runs the command line."""

from snapshot.cli.commands import main

if __name__ == "__main__":
    main()
