"""Benchmark 1 and 2 of the drift engine (issue: drift detection).

10,000 desired/live pairs built from the corpus as a real API server returned it (applied
client-side and server-side), with realistic variations: most objects untouched, some
edited the way people edit them (image, replicas, env value, a removed port), some changed
in ways that are not drift (a label or a sidecar added by someone else, a quantity
re-spelled by the server). Every pair carries the truth: drift or not.

1. Engine cost against the floor: time to normalize and diff all pairs, divided by the
   time to `json.loads` the same live objects. Target: 1.5 or less.
2. Against the obvious alternative, deepdiff with equivalent ignore settings: both times,
   the ratio (target: at least 10x), and false positives / negatives of each.

Run: .venv/bin/python bench/engine.py  (needs the local API server once, to capture the
corpus as live objects; the capture is cached under var/bench/).
"""

from __future__ import annotations

import copy
import gc
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import corpus_live_objects
from drift.engine.compare import compare, prepare
from drift.engine.normalize import SecretHasher, key_of
from drift.engine.policy import EnginePolicy

PAIRS = 10_000
SEED = 20261130
CONTAINERS = ("spec", "template", "spec", "containers")


def _container(obj: dict) -> dict | None:
    node = obj
    for key in CONTAINERS:
        node = node.get(key) if isinstance(node, dict) else None
        if node is None:
            return None
    return node[0] if node else None


def vary(manifest: dict, live: dict, rng: random.Random) -> tuple[dict, bool]:
    """A live object changed the way clusters drift (True) or harmlessly (False)."""
    live = copy.deepcopy(live)
    declared = _container(manifest)
    container = _container(live)
    roll = rng.random()
    if container is None or declared is None or roll < 0.60:
        return live, False
    if roll < 0.68:
        container["image"] = container["image"] + "-hotfix"
        return live, True
    if roll < 0.72 and "replicas" in manifest.get("spec", {}):
        live["spec"]["replicas"] = manifest["spec"]["replicas"] + 3
        return live, True
    if roll < 0.77 and declared.get("env"):
        live_env = {e["name"]: e for e in container.get("env", [])}
        live_env[declared["env"][0]["name"]]["value"] = "changed-live"
        return live, True
    if roll < 0.80 and len(declared.get("ports", [])) > 1:
        container["ports"].pop()
        return live, True
    if roll < 0.86:
        live["metadata"].setdefault("labels", {})["team"] = "someone-else"
        return live, False
    if roll < 0.92:
        live["spec"]["template"]["spec"]["containers"].insert(
            0,
            {
                "name": "istio-proxy",
                "image": "istio/proxyv2:1.20.0",
                "imagePullPolicy": "IfNotPresent",
                "resources": {},
            },
        )
        return live, False
    if roll < 0.96 and container.get("resources", {}).get("limits", {}).get("cpu"):
        cpu = container["resources"]["limits"]["cpu"]
        container["resources"]["limits"]["cpu"] = (
            f"{int(float(cpu.rstrip('m')) * 1000)}m" if not cpu.endswith("m") else cpu
        )
        return live, False
    live["metadata"].setdefault("annotations", {})["deployment.kubernetes.io/revision"] = "7"
    return live, False


def build_pairs() -> list[tuple[dict, str, bool]]:
    rng = random.Random(SEED)
    base = [(manifest, json.loads(live)) for manifest, live in corpus_live_objects()]
    pairs = []
    for index in range(PAIRS):
        manifest, live = base[index % len(base)]
        varied, drifted = vary(manifest, live, rng)
        pairs.append((manifest, json.dumps(varied), drifted))
    return pairs


def time_loads(texts: list[str]) -> tuple[float, list[dict]]:
    gc.collect()
    start = time.perf_counter()
    objects = [json.loads(text) for text in texts]
    return time.perf_counter() - start, objects


def time_engine(pairs: list[tuple[dict, str, bool]], lives: list[dict]) -> tuple[float, list[bool]]:
    hasher, policy = SecretHasher(b"bench"), EnginePolicy()
    gc.collect()
    start = time.perf_counter()
    verdicts = []
    for (manifest, _, _), live in zip(pairs, lives, strict=True):
        desired = prepare(manifest, "bench", hasher, key_of(manifest))
        verdicts.append(compare(desired, live, policy, hasher) is not None)
    return time.perf_counter() - start, verdicts


# What a careful deepdiff user would ignore: what the server adds and manages.
DEEPDIFF_EXCLUDE = [
    r"root\['status'\]",
    r"root\['metadata'\]\['(managedFields|uid|resourceVersion|"
    r"generation|creationTimestamp|selfLink|annotations)'\]",
]


def time_deepdiff(
    pairs: list[tuple[dict, str, bool]], lives: list[dict]
) -> tuple[float, list[bool]]:
    from deepdiff import DeepDiff

    gc.collect()
    start = time.perf_counter()
    verdicts = []
    for (manifest, _, _), live in zip(pairs, lives, strict=True):
        desired = {k: v for k, v in manifest.items() if k != "metadata"}
        diff = DeepDiff(
            desired,
            {k: v for k, v in live.items() if k != "metadata"},
            ignore_order=True,
            exclude_regex_paths=DEEPDIFF_EXCLUDE,
            ignore_numeric_type_changes=True,
        )
        # Server-added keys are not drift; declared values changed or gone are.
        verdicts.append(
            any(
                k in diff
                for k in (
                    "values_changed",
                    "type_changes",
                    "dictionary_item_removed",
                    "iterable_item_removed",
                )
            )
        )
    return time.perf_counter() - start, verdicts


def errors(verdicts: list[bool], truth: list[bool]) -> tuple[int, int]:
    false_positives = sum(v and not t for v, t in zip(verdicts, truth, strict=True))
    false_negatives = sum(t and not v for v, t in zip(verdicts, truth, strict=True))
    return false_positives, false_negatives


def main() -> None:
    pairs = build_pairs()
    texts = [text for _, text, _ in pairs]
    truth = [drifted for _, _, drifted in pairs]
    loads = min(time_loads(texts)[0] for _ in range(3))
    _, lives = time_loads(texts)
    engine, verdicts = min((time_engine(pairs, lives) for _ in range(3)), key=lambda r: r[0])
    subset = pairs[:1000]  # deepdiff is slow: measured on 1,000 pairs and scaled
    deep, deep_verdicts = time_deepdiff(subset, lives[:1000])
    deep_scaled = deep * len(pairs) / len(subset)
    fp, fn = errors(verdicts, truth)
    dfp, dfn = errors(deep_verdicts, truth[:1000])
    print(
        f"pairs: {len(pairs)} ({sum(truth)} with drift), live JSON "
        f"{sum(map(len, texts)) / 1e6:.1f} MB"
    )
    print(f"json.loads of the live objects: {loads * 1000:8.1f} ms")
    print(
        f"engine, normalize + diff:       {engine * 1000:8.1f} ms   "
        f"ratio to json.loads: {engine / loads:.2f} (target <= 1.5)"
    )
    print(
        f"deepdiff (1,000 pairs, x10):    {deep_scaled * 1000:8.1f} ms   "
        f"engine is {deep_scaled / engine:.1f}x faster (target >= 10)"
    )
    print(f"engine   false positives: {fp}, false negatives: {fn} (of {len(pairs)})")
    print(f"deepdiff false positives: {dfp}, false negatives: {dfn} (of 1,000)")


if __name__ == "__main__":
    main()
