"""Every option of a training run in one dataclass, with defaults from the tuning search.

`make tune` writes better parameters for the user's data to ``ml.tuned_params``; `make train`
starts from them when they exist (``ml/tuning/tuned.py``), and options given on the command line win.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class InputSpec:
    """Where the implicit feedback comes from. Any (user, item[, strength]) table works."""

    table: str = "marts.user_item_interactions"
    user_col: str = "user_id"
    item_col: str = "product_id"
    strength_col: str | None = "strength"  # None: every pair weighs 1
    time_col: str = "last_event_at"
    purchases_col: str | None = "purchases"  # pairs with a value > 0 are not recommended again


@dataclass(frozen=True)
class EvalSpec:
    """How models are evaluated (ml/evaluation/splits.py): the protocol, and the event-level input of the time split."""

    protocol: str = "time"  # time | random
    table: str = "cleaned.cleaned_events"
    user_col: str = "user_id"
    item_col: str = "product_id"
    type_col: str = "event_type"
    time_col: str = "event_time"
    relevant_type: str = "purchase"  # what counts as a hit in the test window
    holdout_days: int = 7  # shortened automatically when the data spans fewer than 14 days
    min_trusted_users: int = 200  # fewer evaluated users: the metrics are printed with a warning
    test_fraction: float = 0.25  # random protocol: share of each user's pairs held out
    seed: int = 17  # random protocol: the hash seed of the draw


ALS_BACKENDS = ("implicit", "spark")


@dataclass(frozen=True)
class AlsParams:
    # implicit: the `implicit` library on the driver (the embedded engine); spark: Spark MLlib on the
    # executors (the cluster engine). Their regularisations differ in meaning: see als_defaults.
    backend: str = "implicit"
    rank: int = 32
    reg_param: float = 20.0  # the implicit backend's; see als_defaults
    alpha: float = 1.0
    max_iter: int = 12
    strength_transform: str = "raw"  # raw | log1p: how event-weighted strength feeds confidence
    seed: int = 7
    blocks: int = 4  # user and item blocks: small machine, little shuffle
    block_size: int = 1024  # rows per BLAS block in recommendFor*


def als_defaults(backend: str) -> AlsParams:
    """Each backend's defaults, from `python -m ml tune` on generated data.
    spark (1M rows, seed 42, two rounds of 16): best validation ndcg@10 0.129 (popularity 0.089); Spark
    multiplies reg_param by each user's and item's number of pairs.
    implicit adds reg_param unscaled (100k rows, 13 pairs per user): reg 20 scored validation ndcg@10
    0.143, reg 10 0.135, 0.5 0.127, 50 0.121, 100 0.080 (popularity 0.077); rank 64 no better than 32."""
    if backend == "spark":
        return AlsParams(backend="spark", reg_param=0.5)
    if backend == "implicit":
        return AlsParams()
    raise ValueError(f"unknown ALS backend {backend!r} ({' or '.join(ALS_BACKENDS)})")


@dataclass(frozen=True)
class EaseParams:
    l2: float = 500.0  # lambda of the closed form: larger shrinks item-item weights
    transform: str = "binary"  # binary | log1p | raw: how strength enters X
    max_items: int = 10_000  # the most popular items form the dense item x item matrix


@dataclass(frozen=True)
class RefitPolicy:
    """When a run refits instead of updating the last model (ml/serving/schedule.py)."""

    force: bool = False  # --full (make train FULL=1)
    every_days: int = 7  # RETRAIN_EVERY_DAYS: the last refit's newest interaction this many days old
    growth_share: float = 0.2  # users or items grew by more than this share since the last refit


@dataclass(frozen=True)
class RunParams:
    input: InputSpec = field(default_factory=InputSpec)
    evaluation: EvalSpec = field(default_factory=EvalSpec)
    model: str = "als"  # the recommender that serves (ml/models)
    compare: tuple[str, ...] = ("als", "ease", "popularity")  # scored side by side in the evaluation
    als: AlsParams = field(default_factory=AlsParams)
    ease: EaseParams = field(default_factory=EaseParams)
    source: str = "defaults"  # where the model parameters came from: defaults, tuned <when>, command line
    top_n: int = 20
    # Personal lists only for users whose last event is at most this many days before the newest event
    # (None: every user). Past a few million users, lists for long-gone visitors cost most of the
    # scoring, writing and sync time; everyone else gets ml.popular_products.
    serve_active_days: int | None = None
    ks: tuple[int, ...] = (5, 10, 20)
    exclude_purchased: bool = True
    evaluate: bool = True  # on refits; an update is not evaluated
    refit: RefitPolicy = field(default_factory=RefitPolicy)
    served_days: int = 35  # SERVED_LISTS_DAYS: a refit removes served lists made more than this many days before it
    keep_models: int = 3  # model folders kept in LAKEHOUSE_DIR/models, newest first (ml/serving/model_state.py prune)

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
