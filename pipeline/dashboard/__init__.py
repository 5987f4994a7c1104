"""The self-contained HTML dashboard (`make dashboard`) built from the same marts Tableau reads."""
