"""The `grid` command line: thin modules that parse options, call the core and render results."""
