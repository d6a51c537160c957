"""Design-space exploration on Dask: ``neuroport explore SPACE.yaml`` (docs/howto/explore.md)."""
