"""CLI handlers: each turns a config into library calls and prints the result."""
