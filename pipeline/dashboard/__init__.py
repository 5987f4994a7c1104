"""The self-contained HTML dashboard (`make report`) built from the same marts Tableau reads."""
