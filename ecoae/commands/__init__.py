"""Sub-commands of the ``ecoae`` CLI, one module per workflow stage.

Each module defines ``register(subparsers)``, adding its sub-commands with
``set_defaults(handler=...)``; a handler takes the parsed arguments and returns
an exit status.
"""

from ecoae.commands import audio_features, autoencoder, evaluation, foundation

COMMAND_MODULES = [foundation, autoencoder, audio_features, evaluation]
