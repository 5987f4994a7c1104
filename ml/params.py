"""Every option of a training run in one dataclass, with defaults from the tuning search."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class InputSpec:
    """Where the implicit feedback comes from. Any table with these four columns works."""

    table: str = "marts.user_item_interactions"
    user_col: str = "user_id"
    item_col: str = "product_id"
    strength_col: str = "strength"
    time_col: str = "last_event_at"
    purchases_col: str | None = "purchases"  # pairs with a value > 0 are not recommended again


@dataclass(frozen=True)
class EvalSpec:
    """Event-level input for the time-based evaluation (train before the cutoff, test after)."""

    table: str = "cleaned.cleaned_events"
    user_col: str = "user_id"
    item_col: str = "product_id"
    type_col: str = "event_type"
    time_col: str = "event_time"
    relevant_type: str = "purchase"  # what counts as a hit in the test window
    holdout_days: int = 7  # shortened automatically when the data spans fewer than 14 days
    min_trusted_users: int = 200  # fewer evaluated users: the metrics are printed with a warning


@dataclass(frozen=True)
class AlsParams:
    # Chosen by `python -m ml tune` on the default data (1M rows, seed 42), two rounds of 16:
    # best validation ndcg@10 0.129 (popularity 0.089); rank 64 and log1p did no better.
    rank: int = 32
    reg_param: float = 0.5
    alpha: float = 1.0
    max_iter: int = 12
    strength_transform: str = "raw"  # raw | log1p: how event-weighted strength feeds confidence
    seed: int = 7
    blocks: int = 4  # user and item blocks: small machine, little shuffle
    block_size: int = 1024  # rows per BLAS block in recommendFor*


@dataclass(frozen=True)
class RunParams:
    input: InputSpec = field(default_factory=InputSpec)
    evaluation: EvalSpec = field(default_factory=EvalSpec)
    als: AlsParams = field(default_factory=AlsParams)
    top_n: int = 20
    ks: tuple[int, ...] = (5, 10, 20)
    exclude_purchased: bool = True
    evaluate: bool = True

    def flat(self) -> dict[str, str]:
        """Parameters as flat 'section.name' -> string pairs, for the model_runs table."""
        out: dict[str, str] = {}

        def walk(prefix: str, value: object) -> None:
            if isinstance(value, dict):
                for key, inner in value.items():
                    walk(f"{prefix}{key}.", inner)
            else:
                out[prefix[:-1]] = str(value)

        walk("", asdict(self))
        return out
