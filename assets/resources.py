"""The one resource every asset uses: which sources file, which data directory, which product."""


from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import duckdb

from tankerwatch.settings import DataPaths, resolve_data_paths, resolve_sources_file
from tankerwatch.sources import Source, load_sources
from tankerwatch.warehouse import connect


class TankerwatchResource(dg.ConfigurableResource):
    """Run settings. Empty values fall back, at run time, to $TANKERWATCH_SOURCES (else the
    bundled demo), $TANKERWATCH_DATA_DIR (else ./data), the product in seeds/volume_assumptions.csv
    and $TANKERWATCH_KEEP_VERSIONS (else 10 published versions kept; at least 2)."""

    sources_file: str = ""
    data_dir: str = ""
    product: str = ""
    keep_versions: int = 0

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # Read once as the run starts: a mistyped or broken sources file fails the run there, in one
        # message, before any step runs, instead of once in every step that reads it.
        self.sources()

    def sources(self) -> list[Source]:
        return load_sources(resolve_sources_file(self.sources_file or None))

    def paths(self) -> DataPaths:
        return resolve_data_paths(self.data_dir or None)

    @contextmanager
    def warehouse(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A short-lived warehouse connection; open it only after any HTTP fetching is done."""
        with connect(self.paths().warehouse) as con:
            yield con
