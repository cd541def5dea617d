"""Group a graph of :func:`keras_widget.to_networkx` into a hierarchy of collapsible blocks.

Pure networkx: a graph in, a :class:`Hierarchy` out; nothing here imports ipywidgets. The view
draws a collapsed block as one box, so the browser gets a bounded number of elements however
large the model is.

How layers are grouped, at each level of nesting (the top level and each nested model):

1. A nested model is one block, holding its own layers (grouped the same way inside).
2. The single-entry single-exit regions of the DAG: the nodes that every path from the inputs to
   the outputs goes through (the dominator chain of the outputs) cut the graph into regions; a
   region of several nodes (a residual block, an inception or dense block) is a block that ends
   with its exit node.
3. Runs of single nodes that share a block name of ``keras.applications`` / keras-hub
   (``block1_conv1``, ``block_3_expand``, ``transformer_layer_3``) are a block.
4. A region too large to read (NASNet's cells feed the next two cells, so few nodes cut the
   graph) is split by block names (``normal_left1_5`` and friends are cell 5).
5. Where a level still has more than ``max_boxes`` items, neighbours are merged by stage
   (``conv3_block1`` … ``conv3_block4`` → ``conv3``), and then into runs of equal size.

Every node is in exactly one block at each level it is grouped at; a block's edges are the
union of its members' edges (see :meth:`Hierarchy.visible_edges`).
"""
from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field

import networkx as nx

MAX_BOXES = 150  # items shown at one level when everything is collapsed
MAX_BLOCK = 60  # a structural region larger than this is split by names

# Block names of keras.applications and keras-hub, most specific first. Group 1 is the block.
_BLOCK_NAMES = [re.compile(p) for p in (
    r"^(conv\d+_block\d+)_",            # ResNet, ResNetV2, DenseNet: conv2_block1_1_conv
    r"^(block\d+_\d+)(?:_|$)",          # InceptionResNetV2: block35_1_conv
    r"^(block\d+[a-z]?)_",              # VGG, Xception, EfficientNet: block1a_dwconv
    r"^(block_\d+)_",                   # MobileNetV2: block_1_expand
    r"^(expanded_conv(?:_\d+)?)_",      # MobileNetV3
    r"^(mixed_?\d+[a-z]?)$",           # Inception: the concat that ends mixed0
    r"^(.*?stage_?\d+_block_?\d+)_",    # ConvNeXt, keras-hub CSP/ResNet stages
    r"^(.*?(?:transformer|encoder|decoder)_layer_\d+)(?:_|$)",  # keras-hub
    r"^(embeddings)_",                  # keras-hub BERT: embeddings_add, embeddings_layer_norm
    r"^(.*?block_?\d+[a-z]?)_",         # any other "…block3_…"
)]
# NASNet: normal_left1_5, separable_conv_1_bn_reduction_left1_reduce_4, adjust_relu_1_stem_2.
_CELL = re.compile(r"(?:^|_)(?:normal|reduction|adjust)_.*?_((?:reduce_|stem_)?\d+)$")


def block_name(layer_name):
    """The ``keras.applications`` / keras-hub block a layer name says it belongs to, or ``None``:
    ``"conv2_block1_1_conv"`` → ``"conv2_block1"``, ``"normal_left1_5"`` → ``"cell_5"``."""
    m = _CELL.search(layer_name)
    if m:
        return "cell_" + m.group(1)
    for pattern in _BLOCK_NAMES:
        m = pattern.match(layer_name)
        if m:
            return m.group(1)
    return None


def stage_name(block):
    """The stage a block name belongs to, or ``None``: ``"conv3_block2"`` → ``"conv3"``,
    ``"block4b"`` → ``"block4"``, ``"block17_3"`` → ``"block17"``."""
    if block is None:
        return None
    for pattern, repl in ((r"_?block_?\d+$", ""), (r"^(block\d+)[a-z]$", r"\1"),
                          (r"^(block\d+)_\d+$", r"\1"), (r"^cell_(reduce|stem)_\d+$", None)):
        if re.search(pattern, block):
            if repl is None:
                return None
            out = re.sub(pattern, repl, block)
            return out if out and out != block else None
    return None


@dataclass
class Block:
    """A collapsible group. ``id``: a nested model's node id, or ``"blk:<container>/<name>"``.
    ``items``: its direct members, in data-flow order: node ids and ids of inner blocks."""

    id: str
    name: str
    parent: str | None
    items: list = field(default_factory=list)
    model: bool = False  # a nested model (its id is also a graph node)


class Hierarchy:
    """Blocks over a graph of :func:`keras_widget.to_networkx`.

    ``top``: the items of the top level (node ids and block ids). ``blocks``: ``{id: Block}``.
    ``parent``: ``{item id: enclosing block id or None}`` for every node and block.
    """

    def __init__(self, graph, max_boxes=MAX_BOXES, max_block=MAX_BLOCK):
        self.graph = graph
        self.blocks = {}
        self.parent = {}
        self._order = {n: i for i, n in enumerate(nx.topological_sort(graph))}
        self._leaves = {}
        self.top = self._group(None, max_boxes, max_block)

    # -- building -----------------------------------------------------------------------------

    def _group(self, container, max_boxes, max_block):
        """The grouped items of one level: the direct members of ``container`` (a nested
        model's node id, or ``None`` for the top level)."""
        g = self.graph
        members = [n for n in g if g.nodes[n].get("parent_node") == container]
        members.sort(key=self._order.__getitem__)
        for n in members:
            if g.nodes[n]["kind"] == "model":
                block = Block(n, g.nodes[n]["name"], None, model=True)
                self.blocks[n] = block
                block.items = self._group(n, max_boxes, max_block)
                for item in block.items:
                    self.parent[item] = n
        level = self._level_graph(container, members)
        groups = self._regions(level, members)
        items = []
        prefix = "blk:" + (g.nodes[container]["path"] + "/" if container else "")
        taken = set()

        def make(name, group):
            if len(group) == 1:
                return group[0]
            base, k = name, 1
            while name in taken:
                k += 1
                name = f"{base}_{k}"
            taken.add(name)
            block = Block(prefix + name, name, None, list(group))
            self.blocks[block.id] = block
            for item in group:
                self.parent[item] = block.id
            return block.id

        # A region and the nodes right after it that carry its block name (ResNet's
        # conv2_block1_out after the add that closes the region) are one block.
        merged = []
        for group in groups:
            key = self._names(group)
            if merged and key is not None and key == self._names(merged[-1]):
                merged[-1] = merged[-1] + group
            else:
                merged.append(group)
        groups = merged
        run, run_key = [], None
        for group in groups + [None]:
            key = None if group is None or len(group) != 1 else self._key(group[0])
            if run and (key is None or key != run_key):
                items.append(make(run_key, run))
                run, run_key = [], None
            if group is None:
                break
            if key is not None:
                run.append(group[0])
                run_key = key
            elif len(group) > max_block:
                items.extend(self._split(group, make))
            else:
                items.append(make(self._region_name(group), group))
        items = self._bound(items, max_boxes, make)
        for item in items:
            self.parent.setdefault(item, container)
        return items

    def _level_graph(self, container, members):
        """The DAG of one level: a nested model stands for all its own nodes."""
        g = self.graph
        rep = {}
        for n in g:
            p = n
            while p is not None and g.nodes[p].get("parent_node") != container:
                p = g.nodes[p].get("parent_node")
            if p is not None:
                rep[n] = p
        level = nx.DiGraph()
        level.add_nodes_from(members)
        for u, v in g.edges:
            if u in rep and v in rep and rep[u] != rep[v]:
                level.add_edge(rep[u], rep[v])
        return level

    def _regions(self, level, members):
        """Single-entry single-exit regions, in data-flow order: each a list of items ending
        with its exit (the next node every path goes through)."""
        source, sink = ("__source__",), ("__sink__",)
        dag = level.copy()
        # An input is never inside a block, so its edges do not cut regions: a mask fed to
        # every layer (keras-hub's padding_mask) would otherwise make one region of them all.
        fed = [(u, v) for u, v in level.edges if self.graph.nodes[u]["kind"] == "input"]
        dag.remove_edges_from(fed)
        dag.add_edges_from((source, n) for n in members if dag.in_degree(n) == 0)
        dag.add_edges_from((n, sink) for n in members if level.out_degree(n) == 0)
        idom = nx.immediate_dominators(dag, source)
        cuts, c = [], sink
        while c != source:
            c = idom[c]
            cuts.append(c)
        cut_set = set(cuts)
        inner = {}
        for n in members:
            if n in cut_set:
                continue
            d = idom[n]
            while d not in cut_set:
                d = idom[d]
            inner.setdefault(d, []).append(n)
        groups = []
        for entry in reversed(cuts):  # source first
            if entry != source:
                groups.append([entry])
            body = inner.get(entry, [])
            if body:
                nxt = cuts[cuts.index(entry) - 1] if cuts.index(entry) > 0 else sink
                if nxt != sink:  # the exit closes the region (a residual add, a concat)
                    groups.append(body + [nxt])
                else:
                    groups.append(body)
        # An exit taken into its region is not a group of its own as well; an input is never
        # inside a block (it is where the model starts).
        out, seen = [], set()
        for group in groups:
            if len(group) == 1 and group[0] in seen:
                continue
            inputs = [n for n in group if n not in self.blocks
                      and self.graph.nodes[n]["kind"] == "input"]
            out.extend([n] for n in inputs)
            rest = [n for n in group if n not in inputs]
            if rest:
                out.append(rest)
            seen.update(group)
        return [sorted(gr, key=self._order.__getitem__) for gr in out]

    def _key(self, item):
        if item in self.blocks:
            return None
        return block_name(self.graph.nodes[item]["name"])

    def _names(self, group):
        """The block name most of a group's nodes carry, or ``None``."""
        keys = Counter(k for k in map(self._key, group) if k)
        return keys.most_common(1)[0][0] if keys else None

    def _region_name(self, group):
        keys = Counter(k for k in map(self._key, group) if k)
        if keys:
            return keys.most_common(1)[0][0]
        last = group[-1]
        return self.blocks[last].name if last in self.blocks else self.graph.nodes[last]["name"]

    def _split(self, group, make):
        """A large region split by block names (runs of the same name are one block)."""
        # A node without a block name (NASNet's activation_123) goes with the block it feeds,
        # or else the one it reads from.
        keys = {item: self._key(item) for item in group}
        for item in reversed(group):
            if keys[item] is None and item not in self.blocks:
                keys[item] = next((keys[s] for s in self.graph.successors(item)
                                   if keys.get(s)), None)
        for item in group:
            if keys[item] is None and item not in self.blocks:
                keys[item] = next((keys[p] for p in self.graph.predecessors(item)
                                   if keys.get(p)), None)
        by_key = {}
        for item in group:
            by_key.setdefault(keys[item] or item, []).append(item)
        return [make(key, items) for key, items in by_key.items()]

    def _bound(self, items, max_boxes, make):
        """At most ``max_boxes`` items: merge neighbours by stage, then into equal runs."""
        if len(items) <= max_boxes:
            return items

        def stage(item):
            name = self.blocks[item].name if item in self.blocks else self._key(item)
            return stage_name(name) or (name if item not in self.blocks else None)

        merged, run, key = [], [], None
        for item in items + [None]:
            k = stage(item) if item is not None else None
            if run and (k is None or k != key):
                merged.append(make(key, run) if len(run) > 1 else run[0])
                run, key = [], None
            if item is None:
                break
            if k is None:
                merged.append(item)
            else:
                run.append(item)
                key = k
        if len(merged) <= max_boxes:
            return merged
        size = math.ceil(len(merged) / max_boxes)
        out = []
        for i in range(0, len(merged), size):
            chunk = merged[i:i + size]
            out.append(make(f"{self._label(chunk[0])} … {self._label(chunk[-1])}", chunk)
                       if len(chunk) > 1 else chunk[0])
        return out

    def _label(self, item):
        return self.blocks[item].name if item in self.blocks else self.graph.nodes[item]["name"]

    # -- reading ------------------------------------------------------------------------------

    def leaves(self, item):
        """The graph nodes an item stands for (itself for a node; a nested model's own node
        included)."""
        if item not in self.blocks:
            return [item]
        if item not in self._leaves:
            out = [item] if self.blocks[item].model else []
            for child in self.blocks[item].items:
                out.extend(self.leaves(child))
            self._leaves[item] = out
        return self._leaves[item]

    def ancestors(self, item):
        """The blocks holding ``item``, outermost first (a nested model counts as a block)."""
        out, p = [], self.parent.get(item)
        while p is not None:
            out.append(p)
            p = self.parent.get(p)
        return out[::-1]

    def visible(self, expanded=()):
        """``[(item, parent shown, expanded?)]``: what is drawn when the blocks in ``expanded``
        are open and every other block is one box. ``parent shown`` is the enclosing open
        block (drawn as a compound box) or ``None``."""
        expanded = set(expanded)
        out = []

        def walk(items, parent):
            for item in items:
                is_open = item in self.blocks and item in expanded
                out.append((item, parent, is_open))
                if is_open:
                    walk(self.blocks[item].items, item)

        walk(self.top, None)
        return out

    def representative(self, node_id, expanded=()):
        """The item drawn for a graph node: its outermost closed block, or the node itself."""
        for block in self.ancestors(node_id):
            if block not in expanded:
                return block
        return node_id

    def visible_edges(self, expanded=()):
        """``{(source item, target item): [shapes]}``: each edge of the graph drawn between
        the items that stand for its ends (none inside one closed block; a nested model's own
        node stands for the model when it is open, and has no edges of its own)."""
        expanded = set(expanded)
        out = {}
        for u, v, d in self.graph.edges(data=True):
            ru, rv = self.representative(u, expanded), self.representative(v, expanded)
            if ru == rv:
                continue
            shapes = out.setdefault((ru, rv), [])
            if d["shape"] not in shapes:
                shapes.append(d["shape"])
        return out

    def summary(self, block_id):
        """``{"layers", "params", "inputs", "outputs"}`` of a block: how many layers it holds
        (distinct layer paths), their parameters (a shared layer counted once), and the shapes
        of the tensors that enter and leave it (with ``None`` for the batch axis)."""
        inside = set(self.leaves(block_id))
        g = self.graph
        paths = {}
        for n in inside:
            d = g.nodes[n]
            if d["kind"] != "model":
                paths.setdefault(d["path"], d["params"])
        ins, outs = [], []
        for n in sorted(inside, key=self._order.__getitem__):
            for p in g.predecessors(n):
                if p not in inside and g.edges[p, n]["shape"] not in ins:
                    ins.append(g.edges[p, n]["shape"])
            for s in g.successors(n):
                if s not in inside and g.edges[n, s]["shape"] not in outs:
                    outs.append(g.edges[n, s]["shape"])
        return {"layers": len(paths), "params": sum(paths.values()), "inputs": ins,
                "outputs": outs}
