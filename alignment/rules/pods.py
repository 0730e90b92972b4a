"""Pod templates and what they reference: where a workload kind keeps its pod spec, the
ConfigMaps, Secrets, ServiceAccounts and claims a pod spec names, and label selectors."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

from drift.engine.normalize import ObjectKey

# Where each workload kind keeps its pod template (JSON pointer of the template).
TEMPLATES = {
    ("", "Pod"): "",
    ("", "ReplicationController"): "/spec/template",
    ("apps", "Deployment"): "/spec/template",
    ("apps", "StatefulSet"): "/spec/template",
    ("apps", "DaemonSet"): "/spec/template",
    ("apps", "ReplicaSet"): "/spec/template",
    ("batch", "Job"): "/spec/template",
    ("batch", "CronJob"): "/spec/jobTemplate/spec/template",
}
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Reference:
    kind: str  # ConfigMap, Secret, ServiceAccount or PersistentVolumeClaim (core group)
    name: str
    path: str  # JSON pointer of the field that names it
    optional: bool = False


def _at(obj: Mapping[str, Any], pointer: str) -> Any:
    value: Any = obj
    for part in pointer.split("/")[1:]:
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def template(key: ObjectKey, obj: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]] | None:
    """(pointer, template) of a workload's pod template: a Pod is its own."""
    pointer = TEMPLATES.get((key.group, key.kind))
    if pointer is None:
        return None
    found = _at(obj, pointer) if pointer else obj
    return (pointer, found) if isinstance(found, Mapping) else None


def judged_on_its_owner(obj: Mapping[str, Any]) -> bool:
    """Whether a workload controller made this object from its own template (a
    Deployment's ReplicaSets, a CronJob's Jobs, a ReplicaSet's Pods): what the template
    names is the owner's to answer for, and is judged there. The copies also outlive a
    fix: a Deployment keeps its old ReplicaSets, scaled to zero, with the template as it
    was."""
    for owner in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if not isinstance(owner, Mapping) or not owner.get("controller"):
            continue
        group = str(owner.get("apiVersion", "")).rpartition("/")[0]
        if (group, owner.get("kind")) in TEMPLATES:
            return True
    return False


def template_labels(key: ObjectKey, obj: Mapping[str, Any]) -> Mapping[str, str] | None:
    found = template(key, obj)
    if found is None:
        return None
    labels = (found[1].get("metadata") or {}).get("labels") or {}
    return labels if isinstance(labels, Mapping) else {}


# Within one evaluation, each object's pod spec is walked once for each thing asked of it
# (its references, its containers), whatever number of rules asks: the reference, lane and
# supply rules all do. Each entry holds its object, so no other object can take its id
# while the evaluation lasts.
_WALKED: ContextVar[dict[tuple[str, int], tuple[Mapping[str, Any], tuple[Any, ...]]] | None] = (
    ContextVar("alignment_pod_walks", default=None)
)


@contextmanager
def walked_once() -> Iterator[None]:
    """Remember what pod specs name for the duration of one evaluation."""
    token = _WALKED.set({})
    try:
        yield
    finally:
        _WALKED.reset(token)


def walked(
    what: str,
    walk: Callable[[ObjectKey, Mapping[str, Any]], Iterator[T]],
    key: ObjectKey,
    obj: Mapping[str, Any],
) -> Iterator[T]:
    """``walk(key, obj)``, remembered under ``what`` for the evaluation (walked_once)."""
    memo = _WALKED.get()
    if memo is None:
        return walk(key, obj)
    held = memo.get((what, id(obj)))
    if held is None or held[0] is not obj:
        held = (obj, tuple(walk(key, obj)))
        memo[what, id(obj)] = held
    return iter(held[1])


def once(what: str, held: Mapping[Any, Any], compute: Callable[[], T]) -> T:
    """``compute()``, remembered under ``what`` and the mapping ``held`` (the evaluation's
    objects) for the evaluation: several rules sharing one pass over them."""
    memo = _WALKED.get()
    if memo is None:
        return compute()
    kept = memo.get((what, id(held)))
    if kept is None or kept[0] is not held:
        kept = (held, (compute(),))
        memo[what, id(held)] = kept
    found: T = kept[1][0]
    return found


def references(key: ObjectKey, obj: Mapping[str, Any]) -> Iterator[Reference]:
    """What the workload's pod spec names, with where it names it."""
    return walked("references", _references, key, obj)


def _references(key: ObjectKey, obj: Mapping[str, Any]) -> Iterator[Reference]:
    found = template(key, obj)
    if found is None:
        return
    base = f"{found[0]}/spec"
    spec = found[1].get("spec")
    if not isinstance(spec, Mapping):
        return
    account = spec.get("serviceAccountName") or spec.get("serviceAccount")
    if account and account != "default":  # every namespace has its default
        field = "serviceAccountName" if spec.get("serviceAccountName") else "serviceAccount"
        yield Reference("ServiceAccount", str(account), f"{base}/{field}")
    for index, volume in enumerate(_list(spec, "volumes")):
        yield from _volume(volume, f"{base}/volumes/{index}")
    for group in CONTAINER_LISTS:
        for index, container in enumerate(_list(spec, group)):
            yield from _container(container, f"{base}/{group}/{index}")
    for index, secret in enumerate(_list(spec, "imagePullSecrets")):
        if secret.get("name"):
            yield Reference("Secret", str(secret["name"]), f"{base}/imagePullSecrets/{index}/name")


def _list(parent: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    value = parent.get(name)
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _named(kind: str, source: Any, field: str, path: str) -> Iterator[Reference]:
    if isinstance(source, Mapping) and source.get(field):
        yield Reference(kind, str(source[field]), f"{path}/{field}", bool(source.get("optional")))


def _volume(volume: Mapping[str, Any], path: str) -> Iterator[Reference]:
    yield from _named("ConfigMap", volume.get("configMap"), "name", f"{path}/configMap")
    yield from _named("Secret", volume.get("secret"), "secretName", f"{path}/secret")
    claim = volume.get("persistentVolumeClaim")
    yield from _named("PersistentVolumeClaim", claim, "claimName", f"{path}/persistentVolumeClaim")
    projected = volume.get("projected")
    if isinstance(projected, Mapping):
        for index, source in enumerate(_list(projected, "sources")):
            where = f"{path}/projected/sources/{index}"
            yield from _named("ConfigMap", source.get("configMap"), "name", f"{where}/configMap")
            yield from _named("Secret", source.get("secret"), "name", f"{where}/secret")


def _container(container: Mapping[str, Any], path: str) -> Iterator[Reference]:
    for index, variable in enumerate(_list(container, "env")):
        source = variable.get("valueFrom")
        if isinstance(source, Mapping):
            where = f"{path}/env/{index}/valueFrom"
            configmap = source.get("configMapKeyRef")
            yield from _named("ConfigMap", configmap, "name", f"{where}/configMapKeyRef")
            yield from _named("Secret", source.get("secretKeyRef"), "name", f"{where}/secretKeyRef")
    for index, source in enumerate(_list(container, "envFrom")):
        where = f"{path}/envFrom/{index}"
        yield from _named("ConfigMap", source.get("configMapRef"), "name", f"{where}/configMapRef")
        yield from _named("Secret", source.get("secretRef"), "name", f"{where}/secretRef")


def selects(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """A LabelSelector (matchLabels and matchExpressions) against one set of labels."""
    for name, value in (selector.get("matchLabels") or {}).items():
        if labels.get(name) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        name, operator = expression.get("key"), expression.get("operator")
        values = expression.get("values") or []
        if operator == "In" and labels.get(name) not in values:
            return False
        if operator == "NotIn" and name in labels and labels[name] in values:
            return False
        if operator == "Exists" and name not in labels:
            return False
        if operator == "DoesNotExist" and name in labels:
            return False
    return True
