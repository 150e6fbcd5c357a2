"""Turn Azure SDK failures into the port's typed errors, worded so a Slack user can act on them.

Azure answers "403" or "(AuthorizationFailed) The client ... does not have authorization to perform
action ..." — true, but the person reading it in Slack needs to know which role the *bot's*
identity lacks and on which resource. Every call into Azure therefore runs inside
:func:`azure_errors` with a :class:`Scope` (what resource, which role grants access) and a short
description of the action, and failures come out as :mod:`infra.platform.base` errors.

Retries are not done here: 429 and 5xx are retried by azure-core's ``RetryPolicy`` (honouring
``Retry-After``) before the error reaches us; what arrives is reported as :class:`TransientError`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import requests
from azure.ai.ml.exceptions import MlException, ValidationErrorType
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)

from infra.platform.base import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    PlatformError,
    TransientError,
)

#: Built-in Azure roles the bot needs, by the kind of resource it talks to.
WORKSPACE_ROLE = "AzureML Data Scientist"
REGISTRY_ROLE = "AzureML Registry User"
METRICS_ROLE = "Monitoring Reader"
LOGS_ROLE = "Log Analytics Reader"
STORAGE_ROLE = "Storage Blob Data Reader"

_QUOTA = re.compile(r"quota|OutOfCapacity|SkuNotAvailable|not enough .*capacity", re.IGNORECASE)
_CONFLICT_CODES = {"conflict", "operationinprogress", "anotheroperationinprogress", "concurrency"}


@dataclass(frozen=True)
class Scope:
    """The Azure resource a call touches, and the role that lets the bot's identity use it."""

    description: str
    """Human words: ``workspace 'mlw-prod' (environment prod)``."""
    resource_id: str
    """ARM id of the resource: the scope of the role assignment to make."""
    role: str
    region: str | None = None


@dataclass(frozen=True)
class AzureErrorDetail:
    status: int | None
    code: str | None
    message: str


def error_detail(exc: BaseException) -> AzureErrorDetail:
    """The status, the most specific error code and the service's message of an Azure failure."""
    status = getattr(exc, "status_code", None)
    response = getattr(exc, "response", None)
    if status is None and response is not None:
        status = getattr(response, "status_code", None)
    code: str | None = None
    message = ""
    odata = getattr(exc, "error", None)
    if odata is not None and getattr(odata, "code", None):
        code = odata.code
        message = getattr(odata, "message", "") or ""
        # ARM wraps the useful code one level down: UserError -> ModelNotFound, QuotaExceeded...
        for detail in getattr(odata, "details", None) or ():
            if getattr(detail, "code", None):
                code = detail.code
                message = getattr(detail, "message", None) or message
                break
    body = _json_body(response)
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        err = body["error"]
        code = code or err.get("code")
        message = message or err.get("message") or ""
        inner = err.get("innerError") or err.get("innererror")
        while isinstance(inner, dict) and inner.get("code"):
            code = inner["code"]
            inner = inner.get("innerError") or inner.get("innererror")
    if not message:
        message = getattr(exc, "message", None) or str(exc)
    message = " ".join(str(message).split())
    return AzureErrorDetail(status=status, code=code, message=_trim(message))


def _json_body(response: Any) -> Any:
    if response is None:
        return None
    try:
        return response.json()
    except Exception:  # not JSON, not read, or already consumed: no body to mine
        return None


def _trim(message: str, limit: int = 400) -> str:
    return message if len(message) <= limit else message[: limit - 1] + "…"


def is_not_found(exc: BaseException) -> bool:
    """404 from any Azure client (the registry clients raise a bare HttpResponseError)."""
    return isinstance(exc, ResourceNotFoundError) or getattr(exc, "status_code", None) == 404


def _sdk_not_found(exc: BaseException) -> bool:
    """An SDK "does not exist": ``get(name, label="latest")`` turns the service's 404 into a
    ValidationException of type RESOURCE_NOT_FOUND, which ``log_and_raise_error`` then re-raises
    as a bare MlException (azure-ai-ml 1.35 ``_utils/_asset_utils.py``
    ``_get_latest_version_from_container``, ``_exception_helper.py``); so the chain is searched."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        kind = getattr(getattr(seen, "error_type", None), "value", None)
        if (
            isinstance(seen, ResourceNotFoundError)
            or kind == ValidationErrorType.RESOURCE_NOT_FOUND.value
        ):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def translate(
    exc: BaseException, *, action: str, scope: Scope, missing: str | None = None
) -> PlatformError:
    """Map one Azure failure to a typed :class:`PlatformError` with an actionable message.

    ``action`` completes "the bot could not ..."; ``missing`` names what a 404 means is absent
    ("endpoint 'churn-prod'"), so the message says what is missing and where.
    """
    if isinstance(exc, PlatformError):
        return exc
    detail = error_detail(exc)
    where = scope.description
    service = f": {detail.message}" if detail.message else ""

    if isinstance(exc, ClientAuthenticationError) and detail.status is None:
        return PermissionDeniedError(
            f"The bot could not get an Azure token to {action} in {where}{service}",
            hint="check azure_credential in the configuration and the identity's environment "
            "(AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE or a managed identity)",
        )
    if detail.status in (401, 403) or isinstance(exc, ClientAuthenticationError):
        return PermissionDeniedError(
            f"The bot's identity is not allowed to {action} in {where}",
            hint=f"grant it the '{scope.role}' role on {scope.resource_id}",
        )
    if _QUOTA.search(f"{detail.code or ''} {detail.message}"):
        region = f" in region {scope.region}" if scope.region else ""
        return InvalidRequestError(
            f"Not enough Azure quota{region} to {action}{service}",
            hint="request a quota increase for that VM family and region in the Azure portal "
            "(Quotas > Machine Learning), or deploy a smaller instance type or count",
        )
    if (
        isinstance(exc, ResourceNotFoundError)
        or detail.status == 404
        or (isinstance(exc, MlException) and _sdk_not_found(exc))
    ):
        what = missing or "the resource"
        return NotFoundError(f"{what} does not exist in {where} (while trying to {action})")
    if (
        isinstance(exc, ResourceExistsError)
        or detail.status == 409
        or (detail.code or "").lower() in _CONFLICT_CODES
    ):
        return ConflictError(
            f"Azure refused to {action} in {where} because of a conflicting operation{service}",
            hint="wait for the operation in progress on that resource to finish, then retry",
        )
    if detail.status == 429 or (detail.status is not None and detail.status >= 500):
        return TransientError(
            f"Azure kept failing to {action} in {where} (HTTP {detail.status}) after retries{service}",
            hint="Azure is throttling or unavailable; try again in a few minutes",
        )
    if isinstance(exc, ServiceRequestError | ServiceResponseError | requests.RequestException):
        return TransientError(f"Could not reach Azure to {action} in {where}{service}")
    if isinstance(exc, MlException) and detail.status is None:
        return InvalidRequestError(f"Azure ML rejected the request to {action} in {where}{service}")
    if isinstance(exc, HttpResponseError) and (detail.status is None or detail.status < 400):
        # A long-running operation that ended Failed: the HTTP call succeeded, the work did not.
        code = f" ({detail.code})" if detail.code else ""
        return PlatformError(f"Azure could not {action} in {where}{code}{service}")
    if detail.status is not None and 400 <= detail.status < 500:
        return InvalidRequestError(f"Azure rejected the request to {action} in {where}{service}")
    return PlatformError(f"Azure failed to {action} in {where}{service}")


@contextmanager
def azure_errors(action: str, scope: Scope, *, missing: str | None = None) -> Iterator[None]:
    """Run a block of Azure calls; re-raise any Azure failure as a typed platform error."""
    try:
        yield
    except PlatformError:
        raise
    except (AzureError, requests.RequestException) as exc:
        raise translate(exc, action=action, scope=scope, missing=missing) from exc
