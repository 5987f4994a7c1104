"""The metrics table printed at the end of a run."""

from __future__ import annotations

from typing import Any

SHOWN = ("precision", "recall", "ndcg", "map", "hit_rate", "coverage")


def format_metrics(report: dict[str, Any]) -> str:
    metrics: dict[str, dict[str, float]] = report["metrics"]
    served = report["model"]
    lines = [f"run {report['run_id']}: serving {served} (parameters: {report['params_source']})"]
    if metrics:
        models = list(metrics)
        ks = sorted({int(k.split("@")[1]) for k in metrics[models[0]] if "@" in k})
        header = f"{'metric':<14}" + "".join(f"{m:>12}" for m in models)
        if "oracle" in metrics:
            header += f"{served + '/oracle':>14}"
        lines += [header, "-" * len(header)]
        fraction = report.get("fraction_of_oracle", {})
        for k in ks:
            for name in SHOWN:
                key = f"{name}@{k}"
                row = f"{key:<14}" + "".join(f"{metrics[m].get(key, float('nan')):>12.4f}" for m in models)
                if "oracle" in metrics:
                    row += f"{fraction[key]:>14.2f}" if key in fraction else f"{'':>14}"
                lines.append(row)
        lines.append(f"{'fit seconds':<14}" + "".join(
            f"{metrics[m]['fit_seconds']:>12.1f}" if "fit_seconds" in metrics[m] else f"{'':>12}" for m in models))
        users = int(report["counts"].get("eval_users", 0))
        window = report.get("window", {})
        split = (f"test window {window.get('holdout_days')} days from {window.get('eval_cutoff')}"
                 if window.get("protocol") == "time" else
                 f"{window.get('test_fraction')} of each user's pairs held out at random")
        lines.append(f"evaluated users: {users:,} (the same users for every model; {split})")
        trusted = int(report.get("min_trusted_users", 0))
        if users < trusted:
            lines.append(f"warning: only {users:,} evaluated users (fewer than {trusted:,}): differences between "
                         "models this small are noise, not a finding")
    elif report.get("kind") == "update":
        counts = report["counts"]
        lines.append(f"update of refit {report['refit_run']} (not evaluated): new lists for "
                     f"{counts['changed_users']:,} users with new interactions ({counts['new_users']:,} new), "
                     f"{counts['new_items']:,} new items; every other list kept")
    else:
        lines.append("(evaluation skipped: see the warning above)")
    counts = report["counts"]
    interactions = f", interactions {counts['interactions']}" if "interactions" in counts else ""
    lines.append(f"users {counts['users']}, items {counts['items']}{interactions}, "
                 f"recommendation rows {counts['recommendation_rows']}")
    lines.append("outputs: " + ", ".join(f"{k} = {v}" for k, v in report["outputs"].items()))
    return "\n".join(lines)
