"""Backend plugins, installed as ``neuroport.backends``; each is registered under the entry-point group
``neuroport.backends`` and imported only when used (see :mod:`neuroport.backend`)."""
