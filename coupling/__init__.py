"""The ``coupling`` command line: subcommands over simulate/, proofs/, figures/, paper_repro/."""
