"""Map backends/ and quantization/ into the neuroport namespace (the layout is described in README.md)."""

from setuptools import find_packages, setup

MAPPED = {"neuroport.backends": "backends", "neuroport.quantization": "quantization", "neuroport.hw_configs": "hw_configs"}

packages = find_packages(include=["neuroport", "neuroport.*"])
for name, folder in MAPPED.items():
    packages += [name] + [f"{name}.{sub}" for sub in find_packages(folder)]

setup(packages=packages, package_dir={"neuroport": "neuroport", **MAPPED})
