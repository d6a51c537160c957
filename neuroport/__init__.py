"""neuroport: deploy e-prop-trained recurrent spiking networks to neuromorphic hardware."""

__version__ = "0.1.0"
