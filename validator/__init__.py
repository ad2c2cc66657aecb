"""ippool-validator: a linter and admission webhook for Calico IP pool configuration."""

__version__ = "0.1.0"
