#!/usr/bin/env python3
"""No import cycles between the crate's modules (docs/architecture.md: data flows one way).

A module is a top-level module of src/ (`crate::camera`, with all its files) and, inside a
folder module, each of its child files (`convert::pixels`, `convert::resample`). An edge A -> B
is a path to B written in A's code (`crate::b::...`, `super::b`, `use crate::{b, ..}`); a folder's
mod.rs declaring or re-exporting its own children is not an edge. Any cycle fails, printed with
the lines that make it. Run by scripts/test; exits 1 on a cycle.
"""
import re
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src"


def module_of(path: Path) -> tuple:
    """('camera',) for src/camera/mod.rs, ('convert', 'pixels') for src/convert/pixels.rs,
    ('convert', 'resample') for src/convert/resample/x86.rs (a folder child is one module)."""
    rel = path.relative_to(SRC).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "mod":
        parts.pop()
    if parts[0] in ("lib", "main") or parts[0] == "bin":
        return ("<root>",) if parts[0] != "bin" else ("<bin>",)
    return tuple(parts[:2])


def strip(code: str) -> str:
    """Drops comments and string literals, so docs naming a module are no edges."""
    code = re.sub(r"//[^\n]*", "", code)
    code = re.sub(r'r#*"(?:.|\n)*?"#*', '""', code)
    return re.sub(r'"(?:\\.|[^"\\])*"', '""', code)


def edges(path: Path, code: str):
    me = module_of(path)
    rel = path.relative_to(SRC).with_suffix("").parts
    # The module path of this file, for resolving `super::`.
    here = [p for p in rel if p != "mod"]
    for m in re.finditer(r"\bcrate::(\{[^}]*\}|[a-z_][a-z0-9_]*(?:::[a-z_][a-z0-9_]*)?)", code):
        targets = m.group(1)
        if targets.startswith("{"):
            names = re.findall(r"(?:^|[{,\s])([a-z_][a-z0-9_]*)(?:::([a-z_][a-z0-9_]*))?", targets[1:-1])
            paths = [tuple(x for x in n if x) for n in names]
        else:
            paths = [tuple(targets.split("::"))]
        for p in paths:
            yield me, p, code.count("\n", 0, m.start()) + 1
    for m in re.finditer(r"\b((?:super::)+)([a-z_][a-z0-9_]*)", code):
        ups = m.group(1).count("super::")
        # A file foo.rs or foo/mod.rs is module `here`; super is its parent.
        base = here[: len(here) - ups]
        yield me, tuple(base) + (m.group(2),), code.count("\n", 0, m.start()) + 1


def main() -> int:
    files = sorted(SRC.rglob("*.rs"))
    mods = {module_of(f) for f in files}
    graph: dict = {}
    for f in files:
        code = strip(f.read_text())
        # #[cfg(test)] modules may reach anywhere: only the code the product runs counts.
        cut = re.search(r"#\[cfg\(test\)\]\s*mod tests", code)
        if cut:
            code = code[: cut.start()]
        for me, target, line in edges(f, code):
            # The longest known module the path names.
            dest = next((target[:n] for n in (2, 1) if tuple(target[:n]) in mods), None)
            if dest is None or dest == me or me in (("<root>",), ("<bin>",)):
                continue
            # A folder module and its own children: declaring and re-exporting them is no edge,
            # and a child naming its parent folder's shared items is the usual Rust layout.
            if dest[:1] == me[:1] and (len(dest) == 1 or len(me) == 1):
                continue
            # Inside one folder only sibling edges count; across folders, the top-level modules.
            a, b = (me, dest) if me[:1] == dest[:1] else (me[:1], dest[:1])
            graph.setdefault(a, {}).setdefault(b, []).append(f"{f.relative_to(SRC.parent)}:{line}")
    cycles = []
    state: dict = {}
    stack: list = []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in graph.get(n, {}):
            if state.get(m) == 1:
                cycles.append(stack[stack.index(m):] + [m])
            elif m not in state:
                visit(m)
        stack.pop()
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n)
    for c in cycles:
        print("import cycle: " + " -> ".join("::".join(n) for n in c))
        for a, b in zip(c, c[1:]):
            print(f"  {'::'.join(a)} -> {'::'.join(b)}: {', '.join(graph[a][b][:3])}")
    if not cycles:
        print(f"no import cycles among {len(mods)} modules")
    return 1 if cycles else 0


if __name__ == "__main__":
    sys.exit(main())
