"""What every stage stands on, and nothing stage-specific: the settings (config.py, read once per
entry point), the one error root (errors.py), entry-point start-up (cli.py), the one Spark session
factory (spark.py) and how a process joins the cluster (cluster_conf.py), the lakehouse lock (lock.py),
object storage (storage.py), ports (ports.py), crash points for fault tests (faults.py), step timing
(timing.py). Platform modules import only each other."""
