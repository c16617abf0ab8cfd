"""Apply: the only core stage with side effects (through drivers); returns the new state and events."""
