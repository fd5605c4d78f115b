"""Every request decided: the registered documents' promises as SMT queries (strings and regular languages),
solved by cvc5 each in its own process (docs/smt.md). Dev and plan only, never the program's runtime."""
