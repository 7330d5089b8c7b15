"""tankerwatch's Dagster assets: ingest, reference tables, SQL models, and the published set."""
