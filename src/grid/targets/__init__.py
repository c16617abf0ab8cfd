"""Target-specific pieces that are not Pulumi programs (those live in grid.stacks)."""
