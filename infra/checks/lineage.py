"""The lineage graph: raw sources -> staging -> marts -> views -> sync and reporting.

Nodes are `dataset.table` names as SQL writes them, and the routines (`dataset.function`); an
edge goes from every table a query or view reads, and every routine it calls, to the table it
builds; a routine reads what its body reads and calls. Built once per load from the parsed SQL, it answers:

- is it a DAG? (`cycles` names each cycle, so the error says which queries to untangle);
- in which order do the queries run? (`order`: upstream first, deterministic);
- which scheduled queries feed a query, looking through views and routines (`upstream_queries`), so that
  a query can be checked to run after its inputs are fresh;
- how does it look? (`to_mermaid`, `to_dot`, for a pull request): the whole lineage, or a
  selection of nodes (`select.py`) with the edges among them, changed nodes highlighted (a Mermaid
  `classDef`, a filled Graphviz node).

Deliberately not here: parsing SQL (`sql.py`), schedule arithmetic (`schedule.py`) and the
selection grammar (`select.py`).
"""

from __future__ import annotations

import heapq
from collections.abc import Collection
from dataclasses import dataclass, field

LAYER_ORDER = ("source", "staging", "mart", "ml", "sync", "reporting")
# How a changed node is drawn: a Mermaid `classDef` body, Graphviz node attributes.
CHANGED_STYLE = {"mermaid": "fill:#fde68a,stroke:#b45309,stroke-width:2px",
                 "dot": 'style=filled, fillcolor="#fde68a", color="#b45309", penwidth=2'}


@dataclass(frozen=True)
class Node:
    key: str  # dataset.table
    layer: str  # source, staging, mart, ml, sync, reporting
    kind: str  # source, table, view, routine


@dataclass
class Lineage:
    nodes: dict[str, Node] = field(default_factory=dict)
    upstream: dict[str, set[str]] = field(default_factory=dict)
    _upstream_cache: dict[str, set[str]] = field(default_factory=dict, repr=False, compare=False)

    def add(self, node: Node, reads: set[str] = frozenset()) -> None:
        self._upstream_cache.clear()  # the graph changed
        self.nodes[node.key] = node
        self.upstream.setdefault(node.key, set()).update(reads)

    def cycles(self) -> list[list[str]]:
        """Every elementary cycle found by depth-first search, each as a closed path."""
        found: list[list[str]] = []
        seen_cycles: set[frozenset[str]] = set()
        state: dict[str, int] = {}  # 1 = on the stack, 2 = done
        stack: list[str] = []

        def visit(key: str) -> None:
            state[key] = 1
            stack.append(key)
            for up in sorted(self.upstream.get(key, ())):
                if state.get(up) == 1:
                    cycle = stack[stack.index(up):] + [up]
                    if frozenset(cycle) not in seen_cycles:
                        seen_cycles.add(frozenset(cycle))
                        found.append(list(reversed(cycle)))
                elif up not in state:
                    visit(up)
            stack.pop()
            state[key] = 2

        for key in sorted(self.nodes):
            if key not in state:
                visit(key)
        return found

    def order(self) -> list[str]:
        """Every node, upstream before downstream (ties broken by layer, then name)."""
        indegree = {k: len(self.upstream.get(k, ()) & self.nodes.keys()) for k in self.nodes}
        downstream: dict[str, set[str]] = {k: set() for k in self.nodes}
        for k, ups in self.upstream.items():
            for u in ups:
                if u in downstream:
                    downstream[u].add(k)
        # A heap keeps the ready nodes ordered: sorting the list at every step made this quadratic.
        ready = [(self._sort_key(k), k) for k, d in indegree.items() if d == 0]
        heapq.heapify(ready)
        out: list[str] = []
        while ready:
            _, key = heapq.heappop(ready)
            out.append(key)
            for d in downstream[key]:
                indegree[d] -= 1
                if indegree[d] == 0:
                    heapq.heappush(ready, (self._sort_key(d), d))
        return out

    def _sort_key(self, key: str) -> tuple:
        layer = self.nodes[key].layer
        return (LAYER_ORDER.index(layer) if layer in LAYER_ORDER else 99, key)

    def upstream_queries(self, key: str) -> set[str]:
        """The scheduled tables `key` reads, directly or through views (memoised per graph:
        `check` asks once per query, and views on views would otherwise be walked again)."""
        if key not in self._upstream_cache:
            self._upstream_cache[key] = self._walk_upstream(key)
        return self._upstream_cache[key]

    def _walk_upstream(self, key: str) -> set[str]:
        out: set[str] = set()
        todo = list(self.upstream.get(key, ()))
        seen: set[str] = set()
        while todo:
            up = todo.pop()
            if up in seen or up not in self.nodes:
                continue
            seen.add(up)
            if self.nodes[up].kind in ("view", "routine"):
                todo.extend(self.upstream.get(up, ()))
            elif self.nodes[up].kind == "table":
                out.add(up)
        return out


    def _shown(self, layer: str, keys: Collection[str] | None) -> list[str]:
        """The nodes of a layer to draw: those of a selection (`keys`); without one, every built
        table and the sources something reads."""
        if keys is not None:
            return sorted(k for k in keys if k in self.nodes and self.nodes[k].layer == layer)
        read = set().union(*self.upstream.values()) if self.upstream else set()
        return sorted(k for k, n in self.nodes.items() if n.layer == layer and (n.kind != "source" or k in read))

    def _edges(self, keys: Collection[str] | None) -> list[tuple[str, str]]:
        """(upstream, downstream) pairs to draw: among the selected nodes only, when selected."""
        return [(up, key) for key in sorted(self.upstream) for up in sorted(self.upstream[key])
                if keys is None or (key in keys and up in keys)]

    def to_mermaid(self, keys: Collection[str] | None = None, highlight: Collection[str] = ()) -> str:
        """A Mermaid flowchart of the nodes `keys` (default: the whole lineage) and the edges among
        them; the nodes of `highlight` that are drawn get the class `changed`."""
        lines = ["flowchart LR"]
        drawn: list[str] = []
        for layer in LAYER_ORDER:
            members = self._shown(layer, keys)
            if not members:
                continue
            lines.append(f"  subgraph {layer}")
            for key in members:
                node = self.nodes[key]
                shape = (f'{_id(key)}[("{key}")]' if node.kind == "source"
                         else f'{_id(key)}[/"{key}"/]' if node.kind == "view"
                         else f'{_id(key)}{{{{"{key}"}}}}' if node.kind == "routine" else f'{_id(key)}["{key}"]')
                lines.append(f"    {shape}")
            lines.append("  end")
            drawn += members
        lines += [f"  {_id(up)} --> {_id(key)}" for up, key in self._edges(keys)]
        marked = [k for k in drawn if k in highlight]
        if marked:
            lines.append(f"  classDef changed {CHANGED_STYLE['mermaid']}")
            lines.append(f"  class {','.join(_id(k) for k in marked)} changed")
        return "\n".join(lines)

    def to_dot(self, keys: Collection[str] | None = None, highlight: Collection[str] = ()) -> str:
        """Graphviz of the nodes `keys` (default: the whole lineage) and the edges among them; the
        nodes of `highlight` filled."""
        lines = ["digraph lineage {", "  rankdir=LR;", "  node [fontname=Helvetica, fontsize=10];"]
        for layer in LAYER_ORDER:
            members = self._shown(layer, keys)
            if not members:
                continue
            lines.append(f'  subgraph "cluster_{layer}" {{ label="{layer}";')
            for key in members:
                shape = _DOT_SHAPES.get(self.nodes[key].kind, "box")
                style = f", {CHANGED_STYLE['dot']}" if key in highlight else ""
                lines.append(f'    "{key}" [shape={shape}{style}];')
            lines.append("  }")
        lines += [f'  "{up}" -> "{key}";' for up, key in self._edges(keys)]
        lines.append("}")
        return "\n".join(lines)


_DOT_SHAPES = {"source": "cylinder", "view": "parallelogram", "routine": "hexagon"}


def _id(key: str) -> str:
    return key.replace(".", "__")
