"""Hardware configs (YAML), installed as package data ``neuroport.hw_configs``; loaded by :mod:`neuroport.hw`."""
