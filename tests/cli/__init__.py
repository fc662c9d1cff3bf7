"""CLI tests: ncctl in-process (main(argv)) and as a real process."""
