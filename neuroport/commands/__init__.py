"""CLI commands, one module each, listed in :data:`neuroport.cli.COMMANDS`."""
