"""What another tool's state says it manages, and the hand-over that makes it let go.

Two formats are read: a Terraform state (what `terraform state pull` prints, format
version 4) with the grafana provider's `grafana_oncall_integration` and
`grafana_oncall_route`, and a `pulumi stack export` (version 3) of a stack that uses
pulumi-grafana (`grafana:onCall/integration:Integration` and
`grafana:onCall/route:Route`, and the tokens of its releases before 1.0).

The state only says which ids the old tool holds and under which address; every field
comes from the server (the state may be stale). `match` pairs the state with what the
server lists: the server's order of routes wins over the state's positions (gaps and
all), routes the state lacks are adopted as they are, and anything the server no
longer has is reported, never guessed.

Everything in a state file is untrusted text: addresses and URNs that hold a
character that is not printable are refused, and the hand-over quotes the rest for
the shell.
"""

from __future__ import annotations

import json
import re
import shlex
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from . import _exporting as exporting
from . import _model as model
from ._client import JSONObject
from ._exceptions import StateError

Tool = Literal["terraform", "pulumi"]

TF_INTEGRATION = "grafana_oncall_integration"
TF_ROUTE = "grafana_oncall_route"
# The grafana provider, from either registry that serves it.
TF_PROVIDERS = ("registry.terraform.io/grafana/grafana", "registry.opentofu.org/grafana/grafana")
TF_STATE_VERSION = 4
PULUMI_INTEGRATIONS = (
    "grafana:onCall/integration:Integration",
    "grafana:index/oncallIntegration:OncallIntegration",
)
PULUMI_ROUTES = ("grafana:onCall/route:Route", "grafana:index/oncallRoute:OncallRoute")
PULUMI_EXPORT_VERSION = 3
# Cut there in messages: a state may hold long text.
MAX_SHOWN = 120

_IDENT = r"[A-Za-z_][A-Za-z0-9_-]*"
# A key as Terraform writes it in a module address: an integer or an HCL-quoted string.
_KEY = r'\[(?:[0-9]+|"(?:[^"\\]|\\.)*")\]'
_MODULE = re.compile(rf"module\.{_IDENT}(?:{_KEY})?(?:\.module\.{_IDENT}(?:{_KEY})?)*")
_NAME = re.compile(_IDENT)
_PROVIDER = re.compile(r'(?:module\..+\.)?provider\["([^"]+)"\](?:\.[A-Za-z_][A-Za-z0-9_-]*)?')


@dataclass(frozen=True)
class Managed:
    """One integration or route that the old tool manages."""

    address: str  # Terraform address or Pulumi URN
    id: Any  # as the state holds it: checked against the server
    name: str  # resource name (integration) or route name (route)
    integration_id: Any = None  # a route's, as the state holds it


@dataclass
class OldState:
    """What a state file says the old tool manages."""

    tool: Tool
    integrations: list[Managed] = field(default_factory=list)
    routes: list[Managed] = field(default_factory=list)
    # Resource types that are neither, with their counts.
    ignored: Counter[str] = field(default_factory=Counter)
    # Address (shown safely) and why it is not taken.
    refused: list[tuple[str, str]] = field(default_factory=list)
    stack: str | None = None  # a Pulumi stack's name, from its URNs


def shown(text: Any) -> str:
    """State text fit for one line of a message: printable, quoted when it is not."""
    if type(text) is int:
        return str(text)
    if not isinstance(text, str):
        return f"({model.kind_of(text)})"
    out = text if text.isprintable() else ascii(text)
    return out if len(out) <= MAX_SHOWN else out[:MAX_SHOWN] + "..."


def _value(value: Any) -> str:
    return shown(repr(value)) if isinstance(value, str) else shown(value)


def _load(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        first = text.lstrip()[:1]
        found = "an empty file" if not first else f"text that is not JSON ({exc})"
        raise StateError(f"{what}: found {found}") from None


def read(tool: Tool, text: str, what: str) -> OldState:
    """The state in `text`, read as `tool` writes it; `what` names it in errors."""
    return read_terraform(text, what) if tool == "terraform" else read_pulumi(text, what)


# Terraform


def read_terraform(text: str, what: str) -> OldState:
    doc = _load(text, what)
    if not isinstance(doc, Mapping):
        raise StateError(f"{what}: found JSON {model.kind_of(doc)}, not a Terraform state")
    if "deployment" in doc and "resources" not in doc:
        raise StateError(
            f"{what}: found a Pulumi stack export, not a Terraform state (use --from-pulumi)"
        )
    version = doc.get("version")
    if "lineage" not in doc and "terraform_version" not in doc and "resources" not in doc:
        raise StateError(f"{what}: found JSON that is not a Terraform state (no version 4 fields)")
    if version != TF_STATE_VERSION:
        raise StateError(
            f"{what}: found Terraform state version {shown(version)}; only version 4 is read "
            "(`terraform state pull` of Terraform 0.12 or later prints it)"
        )
    state = OldState("terraform")
    for n, resource in _resources(doc, what):
        _terraform_resource(resource, state, f"{what}: resources[{n}]")
    _require_some(state, what, "grafana_oncall_integration or grafana_oncall_route")
    return state


def _terraform_resource(resource: Mapping[str, Any], state: OldState, where: str) -> None:
    type_, mode = resource.get("type"), resource.get("mode")
    if mode != "managed" or type_ not in (TF_INTEGRATION, TF_ROUTE):
        state.ignored[f"{'data.' if mode == 'data' else ''}{shown(type_)}"] += 1
        return
    provider = resource.get("provider")
    found = _PROVIDER.fullmatch(provider) if isinstance(provider, str) else None
    if found is None or found.group(1) not in TF_PROVIDERS:
        raise StateError(
            f"{where}: found {type_} of provider {shown(provider)}; only the grafana "
            f"provider ({TF_PROVIDERS[0]}) is read"
        )
    module, name = resource.get("module"), resource.get("name")
    if module is not None and not (isinstance(module, str) and _MODULE.fullmatch(module)):
        state.refused.append((shown(module), "its module address is not one Terraform writes"))
        return
    if not (isinstance(name, str) and _NAME.fullmatch(name)):
        state.refused.append((f"{type_}.{shown(name)}", "its name is not one Terraform writes"))
        return
    instances = resource.get("instances")
    for instance in instances if isinstance(instances, list) else []:
        _terraform_instance(instance, type_, module, name, state)


def _terraform_instance(
    instance: Any, type_: str, module: str | None, name: str, state: OldState
) -> None:
    base = f"{module}.{type_}.{name}" if module else f"{type_}.{name}"
    if not isinstance(instance, Mapping):
        state.refused.append((base, f"an instance of it is {model.kind_of(instance)}"))
        return
    if instance.get("deposed"):  # an old object Terraform still has to delete
        return
    key = instance.get("index_key")
    if key is None:
        suffix, parts = "", []
    elif type(key) is int:
        suffix, parts = f"[{key}]", [str(key)]
    elif isinstance(key, str):
        suffix, parts = f"[{hcl_quoted(key)}]", [key]
    else:
        state.refused.append((base, f"its index_key is {model.kind_of(key)}"))
        return
    address = base + suffix
    if not address.isprintable():
        state.refused.append((shown(address), "its address is not printable"))
        return
    attributes = instance.get("attributes")
    attributes = attributes if isinstance(attributes, Mapping) else {}
    if type_ == TF_INTEGRATION:
        label = "-".join([*_module_parts(module), name, *parts])
        state.integrations.append(Managed(address, attributes.get("id"), label))
    else:
        state.routes.append(
            Managed(address, attributes.get("id"), name + suffix, attributes.get("integration_id"))
        )


def _module_parts(module: str | None) -> list[str]:
    """`module.a["x"].module.b[0]` -> a, x, b, 0: what a resource name is made from."""
    if not module:
        return []
    parts = []
    for found in re.finditer(rf"module\.({_IDENT})(?:\[([0-9]+|\"(?:[^\"\\]|\\.)*\")\])?", module):
        parts.append(found.group(1))
        if found.group(2):
            parts.append(found.group(2).strip('"'))
    return parts


def hcl_quoted(text: str) -> str:
    """A string instance key as Terraform writes it in an address (HCL's quoting)."""
    out = ['"']
    for i, char in enumerate(text):
        if char in "\n\r\t":
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t"}[char])
        elif char in '"\\':
            out.append("\\" + char)
        elif char in "$%":
            out.append(char * 2 if text[i + 1 : i + 2] == "{" else char)
        elif not char.isprintable():
            code = ord(char)
            out.append(f"\\u{code:04x}" if code < 65536 else f"\\U{code:08x}")
        else:
            out.append(char)
    return "".join(out) + '"'


# Pulumi


def read_pulumi(text: str, what: str) -> OldState:
    doc = _load(text, what)
    if not isinstance(doc, Mapping):
        raise StateError(f"{what}: found JSON {model.kind_of(doc)}, not a Pulumi stack export")
    if "deployment" not in doc:
        if "lineage" in doc or "terraform_version" in doc:
            raise StateError(
                f"{what}: found a Terraform state, not a Pulumi stack export (use --from-terraform)"
            )
        raise StateError(f"{what}: found JSON that is not a Pulumi stack export (no deployment)")
    version = doc.get("version")
    if version != PULUMI_EXPORT_VERSION:
        raise StateError(
            f"{what}: found a Pulumi stack export of version {shown(version)}; only version 3 "
            "is read (what `pulumi stack export` prints)"
        )
    deployment = doc.get("deployment")
    if not isinstance(deployment, Mapping):
        raise StateError(f"{what}: found its deployment as {model.kind_of(deployment)}")
    state = OldState("pulumi")
    for _, resource in _resources(deployment, what):
        _pulumi_resource(resource, state)
    _require_some(state, what, "pulumi-grafana OnCall integration or route")
    return state


def _pulumi_resource(resource: Mapping[str, Any], state: OldState) -> None:
    type_, urn = resource.get("type"), resource.get("urn")
    wanted = type_ in PULUMI_INTEGRATIONS or type_ in PULUMI_ROUTES
    # Read (`.get`) resources and pending deletes are not the stack's to hand over.
    if not wanted or resource.get("external") or resource.get("delete"):
        if not (isinstance(type_, str) and type_.startswith("pulumi:")):
            state.ignored[shown(type_)] += 1
        return
    if not isinstance(urn, str):
        state.refused.append((shown(urn), "it is not a Pulumi URN"))
        return
    parts = urn.split("::", 3)
    if len(parts) != 4 or not parts[0].startswith("urn:pulumi:") or not parts[3]:
        state.refused.append((shown(urn), "it is not a Pulumi URN"))
        return
    if not urn.isprintable():
        state.refused.append((shown(urn), "its URN is not printable"))
        return
    stack = parts[0].removeprefix("urn:pulumi:")
    if state.stack is None:
        state.stack = stack
    elif state.stack != stack:
        state.refused.append((urn, f"its stack is {stack!r}, not {state.stack!r}"))
        return
    name = parts[3]
    if type_ in PULUMI_INTEGRATIONS:
        state.integrations.append(Managed(urn, resource.get("id"), name))
        return
    outputs, inputs = resource.get("outputs"), resource.get("inputs")
    integration_id = None
    for props in (outputs, inputs):
        if isinstance(props, Mapping) and integration_id is None:
            integration_id = props.get("integrationId")
    state.routes.append(Managed(urn, resource.get("id"), name, integration_id))


def _resources(holder: Mapping[str, Any], what: str) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """The `resources` list of a state or deployment, each an object; none when absent."""
    resources = holder.get("resources")
    if resources is None:
        return
    if not isinstance(resources, list):
        raise StateError(f"{what}: found resources as {model.kind_of(resources)}, not a list")
    for n, resource in enumerate(resources):
        if not isinstance(resource, Mapping):
            raise StateError(f"{what}: resources[{n}] is {model.kind_of(resource)}, not an object")
        yield n, resource


def _require_some(state: OldState, what: str, wanted: str) -> None:
    if state.integrations or state.routes or state.refused:
        return
    if not state.ignored:
        raise StateError(f"{what}: found an empty state (no resources)")
    total = sum(state.ignored.values())
    kinds = ", ".join(f"{t} x{n}" for t, n in sorted(state.ignored.items())[:5])
    more = ", ..." if len(state.ignored) > 5 else ""
    raise StateError(f"{what}: found {total} resources, none a {wanted} ({kinds}{more})")


# Matching with the server


@dataclass
class Migration:
    """The state matched with what the server lists."""

    tool: Tool
    stack: str | None
    # Integration id to the state's entries for it (one, unless imported twice).
    integrations: dict[str, list[Managed]] = field(default_factory=dict)
    # Route id to its state entry, for the routes of migrated integrations.
    routes: dict[str, Managed] = field(default_factory=dict)
    # Route ids that are their integration's default route (default_route holds them).
    default_routes: set[str] = field(default_factory=set)
    # What stays with the old tool: address and why, in the state's order.
    left: list[tuple[str, str]] = field(default_factory=list)
    ignored: Counter[str] = field(default_factory=Counter)
    # Route id to its integration's id, as the server says.
    owners: dict[str, str] = field(default_factory=dict)

    def drop(self, integration_id: str, why: str) -> None:
        """Leave an integration (and its routes) with the old tool after all."""
        for entry in self.integrations.pop(integration_id, []):
            self.left.append((entry.address, why))
        for route_id in [r for r, e in self.routes.items() if self.owners.get(r) == integration_id]:
            entry = self.routes.pop(route_id)
            self.left.append((entry.address, f"its integration is not migrated: {why}"))
            self.default_routes.discard(route_id)

    def handed_over(self) -> list[str]:
        """Addresses or URNs the old tool must forget: routes first (they depend on
        their integration, and `pulumi state delete` refuses to orphan them)."""
        routes = sorted(m.address for m in self.routes.values())
        integrations = sorted(m.address for ms in self.integrations.values() for m in ms)
        return routes + integrations


def match(
    state: OldState,
    integrations: Iterable[Any],
    routes: Iterable[Any],
    chosen: Callable[[Mapping[str, Any]], bool] | None = None,
) -> Migration:
    """Pair the state with the server's integrations and routes (as listed).

    `chosen(integration) -> bool` narrows what migrates (--team-id, --name-regex).
    """
    by_id = {
        i["id"]: i for i in integrations if isinstance(i, Mapping) and model.is_id(i.get("id"))
    }
    route_by_id = {
        r["id"]: r for r in routes if isinstance(r, Mapping) and model.is_id(r.get("id"))
    }
    out = Migration(state.tool, state.stack, ignored=state.ignored)
    out.left += [(address, f"not taken: {why}") for address, why in state.refused]
    tool = "Terraform" if state.tool == "terraform" else "pulumi-grafana"
    for entry in state.integrations:
        if not model.is_id(entry.id):
            out.left.append((entry.address, f"its id {_value(entry.id)} is not an OnCall id"))
        elif entry.id not in by_id:
            out.left.append((entry.address, f"the server has no integration {entry.id}"))
        elif chosen is not None and not chosen(by_id[entry.id]):
            out.left.append((entry.address, f"{entry.id}: not chosen; left with {tool}"))
        else:
            out.integrations.setdefault(entry.id, []).append(entry)
    for entry in state.routes:
        route = route_by_id.get(entry.id) if model.is_id(entry.id) else None
        if not model.is_id(entry.id):
            out.left.append((entry.address, f"its id {_value(entry.id)} is not an OnCall id"))
        elif route is None:
            out.left.append((entry.address, f"the server has no route {entry.id}"))
        elif route.get("integration_id") not in out.integrations:
            owner = shown(route.get("integration_id"))
            out.left.append(
                (
                    entry.address,
                    f"route {entry.id} belongs to integration {owner}, which is not migrated; "
                    f"left with {tool}",
                )
            )
        elif entry.id in out.routes:
            out.left.append(
                (entry.address, f"route {entry.id} is already {out.routes[entry.id].address}")
            )
        else:
            out.routes[entry.id] = entry
            out.owners[entry.id] = route["integration_id"]
            if route.get("is_the_last_route"):
                out.default_routes.add(entry.id)
    return out


def route_names(migration: Migration) -> dict[str, str]:
    """Route id to a name unique within its integration, for the migrated routes."""
    taken: dict[str, set[str]] = {}
    out: dict[str, str] = {}
    for route_id, entry in sorted(migration.routes.items(), key=lambda kv: kv[1].address):
        if route_id in migration.default_routes:
            continue
        names = taken.setdefault(migration.owners[route_id], set())
        name, n = entry.name, 1
        while name in names:
            n += 1
            name = f"{entry.name}-{n}"
        names.add(name)
        out[route_id] = name
    return out


def exported(
    state: OldState,
    integrations: list[JSONObject],
    routes: Mapping[str, list[JSONObject]],
    *,
    teams: Mapping[str, Any],
    chains: Mapping[str, Any],
    connection: str | None,
    chosen: Callable[[Mapping[str, Any]], bool] | None = None,
) -> tuple[str, Migration]:
    """The program that adopts what migrates, and the migration (for the hand-over).

    `routes` maps an integration's id to its routes as the server lists them. An
    integration the program cannot adopt stays with the old tool, routes and all.
    """
    listed = [r for group in routes.values() for r in group]
    migration = match(state, integrations, listed, chosen)
    by_id = {i["id"]: i for i in integrations if isinstance(i, dict) and "id" in i}
    for integration_id in sorted(migration.integrations):
        found = by_id[integration_id]
        reason = exporting.left_out_reason(found, routes.get(integration_id, []))
        if reason is not None:
            migration.drop(integration_id, f"pulumi-oncall cannot adopt it: {reason}")
    text = exporting.program(
        [by_id[i] for i in migration.integrations],
        teams=teams,
        chains=chains,
        connection=connection,
        routes=routes,
        names={i: entries[0].name for i, entries in migration.integrations.items()},
        route_names=route_names(migration),
        notes=notes(migration, routes),
        footer=footer(migration),
    )
    return text, migration


# The hand-over


def handover(migration: Migration, program: str) -> str:
    """The plan and commands that make the old tool forget what migrated, as a shell
    script to read (never run for the user). `program` names the exported program."""
    addresses = migration.handed_over()
    terraform = migration.tool == "terraform"
    tool = "Terraform" if terraform else "pulumi-grafana"
    forget = "terraform state rm" if terraform else "pulumi state delete"
    lines = [
        "#!/bin/sh",
        f"# Hand-over from {tool} to pulumi-oncall: nothing here has been run.",
        "#",
        f"# 1. `pulumi up` of {_comment_text(program)}: it adopts "
        f"{_count(len(migration.integrations), 'integration')} and their routes through "
        "import_id, with no write to OnCall;",
        "#    then `pulumi preview` shows no change.",
        f"# 2. In the {tool} project, the {_count(len(addresses), 'command')} below:",
        f"#    {tool} forgets each resource and deletes nothing.",
        f"# 3. Remove those resources from the {tool} code; then "
        + ("`terraform plan`" if terraform else "`pulumi preview` of that stack")
        + " shows no change.",
        "#",
        f"# Never `{'terraform destroy' if terraform else 'pulumi destroy'}` nor remove them from "
        "the code before step 2: that deletes the integrations (a new one gets a new link).",
        "set -eu",
    ]
    if not terraform:
        stack = ["--stack", migration.stack] if migration.stack else []
        command = ["pulumi", "state", "delete", *stack, "--yes"]
    else:
        command = ["terraform", "state", "rm"]
    lines += [" ".join([*map(shlex.quote, command), _single_quoted(a)]) for a in addresses]
    if not addresses:
        lines.append(f"# Nothing to hand over: no resource of the state migrates ({forget}).")
    return "\n".join(lines) + "\n"


def _count(n: int, what: str) -> str:
    return f"{n} {what}" + ("" if n == 1 else "s")


def _single_quoted(text: str) -> str:
    """`shlex.quote`, in single quotes even when not needed: addresses read better so."""
    quoted = shlex.quote(text)
    return quoted if quoted.startswith("'") else f"'{quoted}'"


def _comment_text(text: str) -> str:
    return text if text.isprintable() else ascii(text)


def summary(migration: Migration) -> list[str]:
    """One line each: what migrates, what is ignored, what stays (for standard error)."""
    routes = len(migration.routes)
    out = [
        f"migrating {_count(len(migration.integrations), 'integration')} and "
        f"{_count(routes, 'route')}; "
        f"{_count(len(migration.handed_over()), 'resource')} to hand over"
    ]
    if migration.ignored:
        total = sum(migration.ignored.values())
        out.append(f"ignored {total} resources of other types")
    out += [f"not migrated: {shown(address)}: {why}" for address, why in migration.left]
    return out


def tool_name(tool: Tool) -> str:
    return "Terraform" if tool == "terraform" else "pulumi-grafana"


def notes(migration: Migration, routes: Mapping[str, list[Any]]) -> dict[str, list[str]]:
    """Comment lines above each migrated integration: where it came from."""
    tool = tool_name(migration.tool)
    out: dict[str, list[str]] = {}
    for integration_id, entries in migration.integrations.items():
        lines = [f"{tool}: {entry.address}" for entry in entries]
        listed = [r for r in routes.get(integration_id, []) if isinstance(r, Mapping)]
        for route in listed:
            if route.get("id") in migration.default_routes:
                address = migration.routes[route["id"]].address
                lines.append(f"{tool}: {address} (its default route: default_route holds it)")
        unknown = sum(
            1
            for r in listed
            if not r.get("is_the_last_route") and r.get("id") not in migration.routes
        )
        if unknown:
            lines.append(
                f"{unknown} of its routes are not in the {tool} state: adopted as they are"
            )
        out[integration_id] = lines
    return out


def footer(migration: Migration) -> list[str]:
    """Comment lines at the end: what the state holds that does not migrate."""
    tool = tool_name(migration.tool)
    lines = [
        f"Not migrated (left with {tool}): {address}: {why}" for address, why in migration.left
    ]
    if migration.ignored:
        total = sum(migration.ignored.values())
        kinds = ", ".join(f"{t} x{n}" for t, n in sorted(migration.ignored.items()))
        lines.append(f"Ignored: {total} resources of other types in the state ({kinds})")
    return lines
