"""Validators: target (placeholder, being written)."""

from __future__ import annotations

from grid.validate import Validator

VALIDATORS: list[Validator] = []
