"""Supply chain verification, pure: image references, cosign signatures and attestations,
Sigstore bundles and SLSA provenance, judged under a lane's signers (no Django, no I/O).

`verify.judge(artifacts, trust)` is the entry point; alignment/registry.py fetches the
artifacts, and the `supply.*` alignment rules read the Evidence it returns.
"""
