"""Run metrics: recorded into idr_out.metrics_export by every run, exported from there.

The table is the source of truth and the retry queue: exporters read it, never the run's
memory, so a metric that could not be delivered is delivered by the next export.

    collect    record_run_metrics(): one row per metric of a run (the seed's taxonomy)
    taxonomy   metric names, types, help texts and the dimension keys allowed as labels
    store      queries over metrics_export: latest state, pending rows, delivery marks
    prometheus exposition, Pushgateway, textfile and the HTTP exporter (`idr metrics serve`)
    datadog    DataDog v2 series through the official client
    webhook    JSON POST signed per Standard Webhooks
    retry      timeouts, exponential backoff with jitter, which failures are retried
    export     export_after_run(): the configured exporters after a run, with warnings
    cli        `idr metrics ...`
"""
