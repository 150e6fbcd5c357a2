"""Reference data from data assets, production data from the data collector's files.

Deployments created by the bot collect ``model_inputs`` and ``model_outputs`` into the workspace
blob datastore as JSON Lines of CloudEvents::

    modelDataCollector/<endpoint>/<deployment>/<collection>/yyyy/MM/dd/HH/<instance>.jsonl

The collector also registers each collection as a data asset named
``<endpoint>-<deployment>-<collection>`` whose path is where it really writes (a deployment can
send a collection elsewhere through ``collections.<name>.data``); when that asset exists its path
is read, else the default path above. Each event's ``data`` holds the rows of one request; inputs
and outputs of the same request share a ``correlationid`` and are aligned row by row. Only the hour folders inside the requested window
are listed and downloaded. Blobs are read with the bot's own Azure AD identity (Storage Blob Data
Reader), never with account keys.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd
from azure.ai.ml import MLClient
from azure.storage.blob import ContainerClient

from infra.platform.azure.clients import STORAGE_SUFFIX, AzureClients
from infra.platform.azure.endpoints import EndpointManager
from infra.platform.azure.errors import azure_errors
from infra.platform.base import SCORED_COLUMNS, InvalidRequestError, NotFoundError, ScoredRequests
from infra.platform.collector import (
    COLLECTOR_ROOT,
    CORRELATION,
    DEPLOYMENT_COLUMN,
    INPUTS,
    OUTPUTS,
    assemble,
    collected_frame,
    days_in,
    hour_of,
    parse_events,
)
from infra.settings import ModelConfig

_READERS = {
    ".parquet": lambda raw: pd.read_parquet(io.BytesIO(raw)),
    ".csv": lambda raw: pd.read_csv(io.BytesIO(raw)),
    ".jsonl": lambda raw: pd.read_json(io.BytesIO(raw), lines=True),
    ".json": lambda raw: pd.read_json(io.BytesIO(raw)),
}
_DATASTORE_URI = re.compile(
    r"^azureml://(?:subscriptions/[^/]+/resource[gG]roups/[^/]+/workspaces/[^/]+/)?datastores/([^/]+)/paths/(.*)$"
)


@dataclass(frozen=True)
class BlobLocation:
    datastore: str
    path: str


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def datastore_container(clients: AzureClients, env: str, datastore_name: str) -> ContainerClient:
    """The blob container behind a workspace datastore, opened with the bot's own identity."""
    ml: MLClient = clients.workspace(env)
    scope = clients.workspace_scope(env)
    with azure_errors(
        f"read datastore '{datastore_name}'", scope, missing=f"datastore '{datastore_name}'"
    ):
        datastore = ml.datastores.get(datastore_name)
    account = getattr(datastore, "account_name", None)
    container = getattr(datastore, "container_name", None)
    if not account or not container:
        raise InvalidRequestError(
            f"datastore '{datastore_name}' in {scope.description} is not an Azure Blob datastore"
        )
    suffix = getattr(datastore, "endpoint", None) or STORAGE_SUFFIX
    protocol = getattr(datastore, "protocol", None) or "https"
    service = clients.blob_service(f"{protocol}://{account}.blob.{suffix}")
    return service.get_container_client(container)


class DataReader:
    def __init__(self, clients: AzureClients, endpoints: EndpointManager) -> None:
        self.clients = clients
        self.endpoints = endpoints

    def _model(self, model: str) -> ModelConfig:
        return self.clients.model_config(model)

    # -- storage access
    def _container(self, env: str, datastore_name: str) -> ContainerClient:
        return datastore_container(self.clients, env, datastore_name)

    def _download(self, container: ContainerClient, name: str, env: str) -> bytes:
        with azure_errors(
            f"download blob '{name}'", self.clients.storage_scope(env), missing=f"blob '{name}'"
        ):
            return container.download_blob(name).readall()

    def _list(self, container: ContainerClient, prefix: str, env: str) -> list[str]:
        with azure_errors(f"list blobs under '{prefix}'", self.clients.storage_scope(env)):
            return [b.name for b in container.list_blobs(name_starts_with=prefix)]

    # -- reference data and labels
    def reference_data(self, model: str) -> pd.DataFrame:
        config = self._model(model)
        if not config.reference_data:
            raise NotFoundError(
                f"model '{model}' has no reference_data; set it to azureml:<data-asset>:<version> "
                "or a path in the workspace datastore"
            )
        return self.read_table(config.reference_data, self.clients.settings.training_env(config))

    def reference_version(self, model: str) -> str | None:
        """A pinned data asset version (``azureml:<name>:<version>``) is immutable, so it names
        the content; a label, ``latest`` or a datastore path may change under the same name:
        None (the caller fingerprints what it read)."""
        reference = self._model(model).reference_data or ""
        if not reference.startswith("azureml:") or reference.startswith("azureml://"):
            return None
        name, _, version = reference[len("azureml:") :].partition(":")
        if not version or "@" in name:
            return None
        env = self.clients.settings.training_env(self._model(model))
        return f"asset:{env}:{name}:{version}"

    def locate(self, reference: str, env: str) -> BlobLocation:
        """Where a data asset, datastore URI or datastore-relative path lives."""
        default = self.clients.workspace_config(env).datastore
        if reference.startswith("azureml:") and not reference.startswith("azureml://"):
            name, _, version = reference[len("azureml:") :].partition(":")
            name, _, label = name.partition("@")
            ml = self.clients.workspace(env)
            with azure_errors(
                f"read data asset '{name}'",
                self.clients.workspace_scope(env),
                missing=f"data asset '{reference}'",
            ):
                asset = (
                    ml.data.get(name, version=version)
                    if version
                    else ml.data.get(name, label=label or "latest")
                )
            reference = str(asset.path)
        match = _DATASTORE_URI.match(reference)
        if match:
            return BlobLocation(datastore=match.group(1), path=match.group(2))
        if "://" in reference:
            raise InvalidRequestError(
                f"cannot read {reference!r}: expected azureml:<asset>:<version>, "
                "azureml://datastores/<name>/paths/<path> or a path in the workspace datastore"
            )
        return BlobLocation(datastore=default, path=reference.lstrip("/"))

    def read_table(self, reference: str, env: str) -> pd.DataFrame:
        where = self.locate(reference, env)
        container = self._container(env, where.datastore)
        suffix = (
            "." + where.path.rsplit(".", 1)[-1].lower()
            if "." in where.path.rsplit("/", 1)[-1]
            else ""
        )
        if suffix in _READERS:
            return _READERS[suffix](self._download(container, where.path, env))
        prefix = where.path.rstrip("/") + "/"
        files = [
            n
            for n in self._list(container, prefix, env)
            if "." + n.rsplit(".", 1)[-1].lower() in _READERS
        ]
        if not files:
            raise NotFoundError(
                f"no parquet, CSV or JSON files under '{where.path}' in datastore '{where.datastore}'"
            )
        frames = [
            _READERS["." + n.rsplit(".", 1)[-1].lower()](self._download(container, n, env))
            for n in sorted(files)
        ]
        return pd.concat(frames, ignore_index=True)

    # -- production data
    def production_data(self, model: str, env: str, start: datetime, end: datetime) -> pd.DataFrame:
        start, end = _utc(start), _utc(end)
        if end <= start:
            raise InvalidRequestError(
                f"the data window must end after it starts ({start} .. {end})"
            )
        config = self._model(model)
        endpoint = self.endpoints.endpoint_name(model, env)
        default_store = self.clients.workspace_config(env).datastore
        containers: dict[str, ContainerClient] = {}

        def container_of(datastore: str) -> ContainerClient:
            if datastore not in containers:
                containers[datastore] = self._container(env, datastore)
            return containers[datastore]

        root = f"{COLLECTOR_ROOT}/{endpoint}/"
        with azure_errors(
            f"list collected data of endpoint '{endpoint}'", self.clients.storage_scope(env)
        ):
            # Deployments deleted since keep their files under the default path; live ones are
            # also asked for their collector's data assets.
            walked = [
                p.name[len(root) :].strip("/")
                for p in container_of(default_store).walk_blobs(
                    name_starts_with=root, delimiter="/"
                )
            ]
        live = [d.name for d in self.endpoints.state(model, env).deployments]
        deployments = list(dict.fromkeys([*live, *walked]))
        first_hour = start.replace(minute=0, second=0, microsecond=0)
        collections: dict[str, list[pd.DataFrame]] = {INPUTS: [], OUTPUTS: []}
        for deployment in deployments:
            for collection in collections:
                where = self.collection_location(env, endpoint, deployment, collection)
                container = container_of(where.datastore)
                for day in days_in(first_hour, end):
                    prefix = f"{where.path.rstrip('/')}/{day:%Y/%m/%d}/"
                    for name in self._list(container, prefix, env):
                        hour = hour_of(name)
                        if hour is None or not first_hour <= hour < end:
                            continue
                        raw = self._download(container, name, env)
                        frame = collected_frame(
                            parse_events(raw, deployment), config.columns.prediction
                        )
                        collections[collection].append(frame)
        inputs = (
            pd.concat(collections[INPUTS], ignore_index=True)
            if collections[INPUTS]
            else pd.DataFrame()
        )
        outputs = (
            pd.concat(collections[OUTPUTS], ignore_index=True)
            if collections[OUTPUTS]
            else pd.DataFrame()
        )
        return self._assemble(config, env, inputs, outputs, start, end)

    def collection_location(
        self, env: str, endpoint: str, deployment: str, collection: str
    ) -> BlobLocation:
        """Where a deployment's collection lands: the path of the data asset the collector
        registers (``<endpoint>-<deployment>-<collection>``, latest version) when there is one,
        else the collector's default folder in the workspace datastore."""
        name = f"{endpoint}-{deployment}-{collection}"
        ml = self.clients.workspace(env)
        try:
            with azure_errors(
                f"read data asset '{name}'",
                self.clients.workspace_scope(env),
                missing=f"data asset '{name}'",
            ):
                asset = ml.data.get(name, label="latest")
        except NotFoundError:
            return BlobLocation(
                datastore=self.clients.workspace_config(env).datastore,
                path=f"{COLLECTOR_ROOT}/{endpoint}/{deployment}/{collection}",
            )
        return self.locate(str(asset.path), env)

    def _assemble(
        self,
        config: ModelConfig,
        env: str,
        inputs: pd.DataFrame,
        outputs: pd.DataFrame,
        start: datetime,
        end: datetime,
    ) -> pd.DataFrame:
        frame = assemble(
            inputs,
            outputs,
            config.features.all,
            config.columns.prediction,
            config.columns.timestamp,
            start,
            end,
        )
        if config.labels_data and config.columns.target and not frame.empty:
            frame = self._join_labels(config, env, frame)
            frame = frame.sort_values(config.columns.timestamp).reset_index(drop=True)
        return frame

    def _join_labels(self, config: ModelConfig, env: str, frame: pd.DataFrame) -> pd.DataFrame:
        labels = self.read_table(str(config.labels_data), env)
        key = next((c for c in (CORRELATION, "correlation_id") if c in labels.columns), None)
        target = config.columns.target
        if key is None or target not in labels.columns:
            raise InvalidRequestError(
                f"labels_data of '{config.name}' must have a '{CORRELATION}' column and the target "
                f"column '{target}'; it has {list(labels.columns)}"
            )
        labels = labels[[key, target]].drop_duplicates(subset=[key], keep="last")
        labels = labels.rename(columns={key: CORRELATION})
        if target in frame.columns:
            frame = frame.drop(columns=[target])
        return frame.merge(labels, on=CORRELATION, how="left")


def scored_from_collector(
    config: ModelConfig, collected: pd.DataFrame, deployments: list[str]
) -> ScoredRequests:
    """The data collector's rows of the named deployments in the port's shape.

    Latency and errors are not in the collector's files (Azure Monitor has them per
    deployment). Pairing needs the mirrored copy to be logged under the live request's
    correlation id; when no id of the first deployment's requests appears among the others'
    the answers cannot be paired, and the result says so."""
    columns = config.columns
    renames = {CORRELATION: "correlation_id", columns.timestamp: "timestamp"}
    renames[columns.prediction] = "prediction"
    if columns.score:
        renames[columns.score] = "score"
    if columns.target:
        renames[columns.target] = "label"
    frame = collected.rename(columns=renames)
    if DEPLOYMENT_COLUMN in frame.columns:
        frame = frame[frame[DEPLOYMENT_COLUMN].isin(deployments)]
    else:
        frame = frame.iloc[0:0]
    frame = frame.reset_index(drop=True)
    for column in SCORED_COLUMNS:
        if column not in frame.columns:
            frame[column] = None
    frame["request_id"] = frame["correlation_id"]
    frame["mirrored"] = frame[DEPLOYMENT_COLUMN] != (deployments[0] if deployments else None)
    frame = frame[list(SCORED_COLUMNS)]
    by_deployment = {
        name: set(frame.loc[frame["deployment"] == name, "correlation_id"].dropna().astype(str))
        for name in deployments
    }
    served, others = (
        (by_deployment.get(deployments[0], set()), deployments[1:]) if deployments else (set(), [])
    )
    shadow_ids = set().union(*(by_deployment.get(n, set()) for n in others)) if others else set()
    if not shadow_ids:
        note = (
            "the data collector has no rows of the candidate yet (is data collection enabled "
            "on its deployment?), so its answers cannot be paired with the serving version's"
        )
        return ScoredRequests(frame, joinable=False, note=note, per_request_latency=False)
    if not served & shadow_ids:
        note = (
            "the collector logged the mirrored copies under their own correlation ids, so the "
            "two versions' answers cannot be paired: distributions only"
        )
        return ScoredRequests(frame, joinable=False, note=note, per_request_latency=False)
    return ScoredRequests(frame, per_request_latency=False)
