"""YAML with limits: document size, nesting depth and the size aliases expand to (no "billion laughs").

PyYAML's ``safe_load`` refuses arbitrary Python objects but not resource attacks: an alias bomb (anchors that
reference anchors, nine levels of nine copies = 10^9 leaves) loads as a small shared graph that hangs whoever walks
or prints it, ``<<`` merges copy it for real, and a document nested a few thousand levels deep raises
``RecursionError`` in the composer.  :func:`load` composes the document with PyYAML's pure-Python SafeLoader, refusing

    - a text longer than ``MAX_BYTES``;
    - nesting deeper than ``MAX_DEPTH`` levels (counted while composing, before Python's recursion limit);
    - a node graph whose *expanded* size (every alias counted as a full copy of what it refers to) exceeds
      ``MAX_NODES``, and an alias that refers to a node containing it (a recursive structure);

and only then constructs Python objects.  Expanded sizes are counted once per node (memoised), so the check is
linear in the size of the document as written.  Every refusal is a :class:`YamlLimitError` with a one-line reason.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

MAX_BYTES = 16 * 1024 * 1024  # 16 MiB: a model file holds structure; weights live in .npz files
MAX_DEPTH = 64  # model files nest 5 levels; hw configs 4
MAX_NODES = 1_000_000  # expanded scalars + collections; the largest example expands to a few hundred


class YamlLimitError(Exception):
    """The document exceeds one of the limits; ``str()`` says which."""


class _LimitedLoader(yaml.SafeLoader):
    """SafeLoader that counts nesting depth while composing."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise YamlLimitError(f"nesting deeper than {MAX_DEPTH} levels at line {mark.line + 1}; "
                                     "a model file needs a handful")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def expanded_size(root: Node, limit: int = MAX_NODES) -> int:
    """Number of nodes of ``root`` with every alias expanded (iterative, memoised by node identity); raises
    :class:`YamlLimitError` past ``limit`` or on a node that contains itself."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if children_done:
            on_path.discard(key)
            sizes[key] = 1 + sum(sizes[id(c)] for c in _children(node))
            if sizes[key] > limit:
                raise YamlLimitError(f"the document expands to more than {limit:,} values through its aliases "
                                     "(an alias bomb?); write the values out or use fewer aliases")
            continue
        if key in sizes:
            continue
        if key in on_path:
            mark = node.start_mark
            raise YamlLimitError(f"an alias at line {mark.line + 1} refers to a node that contains it "
                                 "(a recursive structure)")
        on_path.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in _children(node) if id(c) not in sizes)
    return sizes[id(root)]


def load(text: str) -> Any:
    """Parse one YAML document within the limits (module docstring); YAML errors propagate as ``yaml.YAMLError``."""
    if len(text) > MAX_BYTES:
        raise YamlLimitError(f"the document is {len(text):,} characters, more than the {MAX_BYTES:,} allowed")
    loader = _LimitedLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        expanded_size(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()
