"""Jinja2 templates grid renders from: Pulumi project files, the Ansible playbook and roles.

Data, not code: read through importlib.resources (grid.render.templating). Shipped as grid.templates.
"""
