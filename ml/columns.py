"""Column names shared by every ML module: ids as the data has them, and dense indices."""

from __future__ import annotations

USER, ITEM, STRENGTH = "user_id", "item_id", "strength"  # feedback as read from any table
U, I = "u", "i"  # dense int32 user and item indices (every model fits on them)
SCORE, RANK = "score", "rank"  # a ranked list: (u, i, score, rank), rank 1 the best
