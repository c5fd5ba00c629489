"""Machine-checked certificates for the theorems of Daliri, Musco and Suresh (issue 3)."""
