"""The one resource every asset uses: which sources file, which data directory, which product."""


from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
import duckdb
from pydantic import Field

from tankerwatch.errors import DataDirUnusable, SourcesFileError, TankerwatchError
from tankerwatch.publish import keep_versions_setting
from tankerwatch.reference import volume_assumptions
from tankerwatch.settings import DataPaths, check_folder, resolve_data_paths, resolve_sources_file
from tankerwatch.sources import Source, load_sources
from tankerwatch.warehouse import connect

RESOURCE_KEY = "tankerwatch"


class TankerwatchResource(dg.ConfigurableResource):
    """Run settings. Empty values fall back, at run time, to $TANKERWATCH_SOURCES (else the
    bundled demo), $TANKERWATCH_DATA_DIR (else ./data), the product in seeds/volume_assumptions.csv
    and $TANKERWATCH_KEEP_VERSIONS (else 10 published versions kept; at least 2)."""

    sources_file: str = Field(
        default="", description="Sources file; empty: $TANKERWATCH_SOURCES, else the bundled demo."
    )
    data_dir: str = Field(default="", description="Data directory; empty: $TANKERWATCH_DATA_DIR, else ./data.")
    product: str = Field(
        default="",
        description="Refined product the volumes are counted in (a product of seeds/conversion_factors.csv); "
        "empty: the one seeds/volume_assumptions.csv names.",
    )
    keep_versions: int = Field(
        default=0,
        description="Published versions kept, at least 2; 0: $TANKERWATCH_KEEP_VERSIONS, else 10.",
    )

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # Checked once as the run starts, before any step: a mistyped setting in the launchpad fails the run
        # there, in one message naming every bad field, instead of half-way through the graph.
        problems = self.config_problems()
        if problems:
            raise dg.Failure(
                description=f"the {RESOURCE_KEY} resource's config cannot be used, so no step ran: "
                + "; ".join(problems)
            )

    def config_problems(self) -> list[str]:
        """What is wrong with each setting, as `field: why`; empty when the run can use them all."""
        problems = []
        try:
            self.sources()
        except SourcesFileError as exc:
            problems.append(f"sources_file: {exc}")
        try:
            check_folder(self.paths().root)
        except DataDirUnusable as exc:
            problems.append(f"data_dir: {exc}")
        try:
            volume_assumptions(self.product or None)
        except TankerwatchError as exc:
            problems.append(f"product: {exc}")
        try:
            keep_versions_setting(self.keep_versions or None)
        except ValueError as exc:
            problems.append(f"keep_versions: {exc}")
        return problems

    def sources(self) -> list[Source]:
        return load_sources(resolve_sources_file(self.sources_file or None))

    def paths(self) -> DataPaths:
        return resolve_data_paths(self.data_dir or None)

    @contextmanager
    def warehouse(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A short-lived warehouse connection; open it only after any HTTP fetching is done."""
        with connect(self.paths().warehouse) as con:
            yield con
