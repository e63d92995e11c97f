"""``python -m snapshot`` runs the command line."""

from snapshot.cli import main

if __name__ == "__main__":
    main()
