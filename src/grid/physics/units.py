"""Numbers as people read them in findings: a few significant digits, never misleadingly equal."""

from __future__ import annotations

X = "\N{MULTIPLICATION SIGN}"
"""The times sign of findings and labels (`IT 17.9 MW \N{MULTIPLICATION SIGN} PUE 1.15`)."""
LINK = " \N{LEFT RIGHT ARROW} "
"""Between the two ends of a link (`zhongwei ↔ qingyang`)."""


def num(value: float, digits: int = 3) -> str:
    """`17.94 → 17.9`, `20.0 → 20`, `0.4567 → 0.457`, `109836.2 → 109,836` (integer part kept whole)."""
    text = f"{value:.{digits}g}"
    return f"{value:,.0f}" if "e" in text or abs(value) >= 10 ** digits else text


def nums(a: float, b: float) -> tuple[str, str]:
    """`a` and `b` with enough digits that different values never print the same."""
    for digits in range(3, 10):
        left, right = num(a, digits), num(b, digits)
        if left != right or a == b:
            return left, right
    return num(a, 10), num(b, 10)


UNKNOWN = "\N{EN DASH}"
"""What a figure nobody knows prints as (a site without a carbon intensity): never 0."""
