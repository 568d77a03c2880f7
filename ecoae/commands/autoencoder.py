"""Sub-commands of this stage (to be written)."""


def register(subparsers) -> None:
    """Add this stage's sub-commands to ``subparsers``."""
