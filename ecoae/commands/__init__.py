"""Sub-commands of the ``ecoae`` CLI, one module per workflow stage.

Each module defines ``register(subparsers)``, adding its sub-commands with
``set_defaults(handler=...)``; a handler takes the parsed arguments and returns
an exit status.
"""

from ecoae.commands import autoencoder, evaluation, foundation, reference_features

COMMAND_MODULES = [foundation, autoencoder, reference_features, evaluation]
