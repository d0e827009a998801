#!/usr/bin/env python3
"""Fails if any crate has an import circle: two files that, through `use` paths, import
each other (directly or round a longer loop). ARCHITECTURE.md promises there is none.

    scripts/import-cycles.py crates/*/src

A file imports the file that defines what a `use crate::…`, `use super::…`,
`use self::…` or child-module path names, following `pub use` re-exports to the file
that defines the item; a `mod.rs` or `lib.rs` that re-exports from a child imports it.
Test modules (`#[cfg(test)] mod tests`) are left out: they may reach anywhere.
"""
import os
import re
import sys
from collections import defaultdict

USE = re.compile(r"\buse\s+([^;]+);")
PUB_USE = re.compile(r"\bpub(?:\([^)]*\))?\s+use\s+([^;]+);")
CRATE_PATH = re.compile(r"\bcrate((?:::\w+)+)")


def source_files(root):
    for folder, _, names in os.walk(root):
        for name in names:
            if name.endswith(".rs"):
                yield os.path.relpath(os.path.join(folder, name), root)


def module_of(relative):
    """`a/b.rs` and `a/b/mod.rs` are module `a::b`; `lib.rs` and `main.rs` the root."""
    parts = relative[:-3].split("/")
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return tuple(parts)


def code_of(path):
    text = open(path, encoding="utf-8").read()
    text = text.split("#[cfg(test)]\nmod tests")[0]
    return re.sub(r"//.*", "", text)


def expand(prefix, text):
    """`a::{b, c::{d}}` → [[a, b], [a, c, d]] (aliases dropped)."""
    text = text.strip()
    group = re.match(r"^([\w:]*?)::\{(.*)\}$", text, re.S)
    if not group:
        path = text.split(" as ")[0]
        return [prefix + [s.strip() for s in path.split("::") if s.strip()]]
    base = prefix + [s for s in group.group(1).split("::") if s]
    items, depth, current = [], 0, ""
    for char in group.group(2):
        depth += char == "{"
        depth -= char == "}"
        if char == "," and depth == 0:
            items.append(current)
            current = ""
        else:
            current += char
    items.append(current)
    return [path for item in items if item.strip() for path in expand(base, item)]


def graph(root):
    file_of = {module_of(f): f for f in source_files(root)}
    code = {f: code_of(os.path.join(root, f)) for f in file_of.values()}

    def absolute(module, path):
        """A `use` path as a module path from the crate root, or None if external."""
        if not path:
            return None
        if path[0] == "crate":
            return path[1:]
        if path[0] in ("super", "self"):
            base = list(module)
            while path and path[0] == "super":
                base, path = base[:-1], path[1:]
            if path and path[0] == "self":
                path = path[1:]
            return base + path
        if module + (path[0],) in file_of:
            return list(module) + path
        return None

    reexports = {}  # (module, name) -> the path it re-exports
    for module, f in file_of.items():
        for match in PUB_USE.finditer(code[f]):
            for path in expand([], match.group(1).replace("\n", " ")):
                source = absolute(module, path)
                if source:
                    reexports[(module, path[-1])] = source

    def resolve(path, seen=()):
        for n in range(len(path), -1, -1):
            module = tuple(path[:n])
            if module in file_of:
                key = (module, path[n]) if n < len(path) else None
                if key in reexports and key not in seen:
                    return resolve(reexports[key] + path[n + 1 :], seen + (key,))
                return file_of[module]
        return None

    edges = defaultdict(set)
    for module, f in file_of.items():
        paths = [p for m in USE.finditer(code[f]) for p in expand([], m.group(1).replace("\n", " "))]
        paths += [["crate"] + m.group(1).split("::")[1:] for m in CRATE_PATH.finditer(code[f])]
        for path in paths:
            target = resolve(absolute(module, path) or [])
            if target and target != f and absolute(module, path) is not None:
                edges[f].add(target)
    return file_of.values(), edges


def cycles(nodes, edges):
    """Strongly connected components of more than one file (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in edges[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                other = stack.pop()
                on_stack.discard(other)
                component.append(other)
                if other == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for node in nodes:
        if node not in index:
            visit(node)
    return found


def main(roots):
    failed = False
    for root in roots:
        nodes, edges = graph(root)
        for component in cycles(list(nodes), edges):
            failed = True
            print(f"import circle in {root}:")
            for f in component:
                print(f"  {f} imports {sorted(t for t in edges[f] if t in component)}")
    if not failed:
        print(f"no import circle in {len(roots)} crates")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
