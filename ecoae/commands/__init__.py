"""Sub-commands of the ``ecoae`` CLI: one module per workflow stage, and ``render`` for people.

Each module of :data:`COMMAND_MODULES` defines ``register(subparsers)``, adding its sub-commands with
``set_defaults(handler=...)``; a handler takes the parsed arguments and returns
an exit status.
"""

from ecoae.commands import audio_features, autoencoder, evaluation, foundation, render

COMMAND_MODULES = [foundation, autoencoder, audio_features, evaluation, render]
