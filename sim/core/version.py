"""The package version, recorded in every summary and saved run."""

__version__ = "0.1.0"
