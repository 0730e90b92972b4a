"""The presentation layer: every page, form and chart of the product, for all its domains.

It sits on top: it may import the core (`driftcontrol`) and every domain app (`drift`,
`remediation`, ...), and nothing imports it. See the README's Layout section.
"""
