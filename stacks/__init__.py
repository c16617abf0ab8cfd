"""Pulumi stack programs, one module per target; rendered projects call `program(resources)`."""
