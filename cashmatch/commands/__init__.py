"""One module per ``cashmatch`` subcommand; each has ``register(subparsers)``.

``register`` adds the subcommand's parser and sets ``func`` (taking the parsed arguments and
returning the exit code). Heavy imports stay inside ``func``.
"""
