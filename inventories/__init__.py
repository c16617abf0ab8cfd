"""Ansible inventory layout in grid's shape (README.md here): group_vars defaults, an example inventory.

Data, not code: read through importlib.resources (grid.targets.existing). Shipped as grid.inventories.
"""
