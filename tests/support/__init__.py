"""The tests' fixtures package: simulators with stated truths, hand-built files and helpers shared by
several test modules (no test module imports another)."""
