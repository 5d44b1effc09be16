"""The README and the public signature follow the schema, which is declared once."""

from __future__ import annotations

import inspect
from pathlib import Path

import pulumi_oncall
from pulumi_oncall import Integration
from pulumi_oncall import _config as config
from pulumi_oncall import _schema as schema

README = (Path(__file__).parents[1] / "README.md").read_text()


def test_signature_takes_every_field_keyword_only() -> None:
    params = inspect.signature(Integration.__init__).parameters
    assert list(params)[1] == "resource_name"
    for name in schema.FIELD_NAMES:
        assert params[name].kind is inspect.Parameter.KEYWORD_ONLY
    assert params["type"].default is inspect.Parameter.empty
    assert params["opts"].default is None


def test_readme_documents_every_field_group_backend_and_output() -> None:
    for name in schema.FIELD_NAMES:
        assert f"| `{name}` |" in README
    for name in schema.TEMPLATE_FIELDS:
        assert f"`{name}`" in README
    for group, fields in schema.TEMPLATE_GROUPS.items():
        assert f"`{group}{{{', '.join(fields)}}}`" in README
    for backend, target in schema.ROUTE_BACKENDS.items():
        assert f"`{backend}{{{target}, enabled}}`" in README
    for output in schema.OUTPUT_DOCS:
        assert f"`{output}`" in README
    for refused in schema.REFUSED_TYPES:
        assert f"`{refused}`" in README


def test_readme_documents_every_setting() -> None:
    for key in (
        config.URL_KEY,
        config.TOKEN_KEY,
        config.GRAFANA_URL_KEY,
        config.CA_BUNDLE_KEY,
        config.CONNECTIONS_KEY,
        config.URL_ENV,
        config.TOKEN_ENV,
        config.GRAFANA_URL_ENV,
        *config.RETRY_KEYS,
    ):
        assert f"`{key}`" in README


def test_readme_lists_every_known_type() -> None:
    for type_ in schema.KNOWN_TYPES:
        assert f"`{type_}`" in README


def test_readme_documents_every_public_function() -> None:
    for name in pulumi_oncall.__all__:
        if name.startswith("get_"):
            assert f"`{name.removesuffix('_output')}(" in README or f"{name}" in README
