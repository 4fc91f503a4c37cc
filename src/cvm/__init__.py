"""cvm: open-source Customer Value Management."""

__version__ = "0.1.0"
