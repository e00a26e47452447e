"""parley: a verifiable hub for deconfliction and protection notifications."""

__version__ = "0.1.0"
