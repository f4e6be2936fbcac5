#!/usr/bin/env python3
"""Module-structure check for the kadet workspace (stdlib only).

Run from the repository root:

    python3 .ci/check-modules.py [--root DIR]

It reads every crate's library/binary code (`crates/<crate>/src/**/*.rs`,
without `#[cfg(test)]` items and files declared `#[cfg(test)] mod x;`) and
checks two rules.

1. Peers (kadet-server only). Single-process mode (`src/local/`) and cluster
   mode (`src/cluster/`) are peers over a shared core: neither may refer to
   the other. Any path from `cluster` that reaches `crate::local` (written as
   `crate::local::..`, `super::super::local::..`, or through a re-export that
   resolves there) is reported, and the same from `local` to `crate::cluster`.

2. No import loops between sibling modules, so the code reads in one
   direction. Every reference to a path of the same crate (`use crate::..`,
   `use super::..`, `use self::..`, grouped and nested `use` trees, and inline
   paths such as `crate::metrics::Counter::Alerts` or `super::state::load()`)
   is resolved to the deepest module along it: files decide which segments
   are modules (`a/b.rs` and `a/b/mod.rs` are `a::b`, `lib.rs`/`main.rs` the
   root); the remaining segments are items. When a segment is a name that a
   module re-exports from inside itself (`pub use child::Item`,
   `pub use child::{A, B as C}`, `pub use child::*`), resolution follows the
   re-export, so `super::Item` from a child lands on the sibling that really
   defines `Item`. An edge from module A to module B counts between the two
   children of their deepest common ancestor P that contain A and B; an edge
   between a module and one of its ancestors does not count. Each strongly
   connected component with more than one sibling is a loop, reported with the
   crate, the parent module, the modules in it, and one example `file:line`
   for each edge between them. `mod x;` is not an edge; paths that name no
   module of the crate (std, other crates, crate-root items) are ignored.

Exit status 0 with a one-line summary when clean, 1 with every problem
otherwise (2 on usage errors).

This is a lexical check, not a compiler: it does not expand macros, follow
`#[path]` attributes, evaluate `cfg` other than `cfg(test)`, or see
dependencies that go through a name imported earlier (the `use` that imported
it already carries the edge).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections import defaultdict

# --------------------------------------------------------------------------
# Tokenizer: identifiers and punctuation with line numbers; comments and
# string/char literals are dropped so nothing in them counts as a path.
# --------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
      (?P<nl>\n)
    | (?P<ws>[ \t\r\f\v]+)
    | (?P<lc>//[^\n]*)
    | (?P<bc>/\*)
    | (?P<raw>[bc]?r(?P<hashes>\#*)")
    | (?P<str>[bc]?"(?:\\.|[^"\\])*")
    | (?P<chr>b?'(?:[^'\\\n]|\\(?:x[0-9a-fA-F]{2}|u\{[0-9a-fA-F_]*\}|.))')
    | (?P<life>'[A-Za-z_]\w*)
    | (?P<id>(?:r\#)?[A-Za-z_]\w*)
    | (?P<num>\d[\w]*)
    | (?P<path>::)
    | (?P<p>.)
    """,
    re.VERBOSE | re.DOTALL,
)


def tokenize(text):
    """Return a list of (text, line) tokens; identifiers keep `r#` stripped."""
    toks = []
    pos, line, n = 0, 1, len(text)
    match = _TOKEN.match
    while pos < n:
        m = match(text, pos)
        kind = m.lastgroup  # the outer group: "raw", never "hashes"
        end = m.end()
        if kind == "nl":
            line += 1
        elif kind in ("ws", "lc", "life", "num"):
            pass
        elif kind == "bc":  # nested block comment
            depth, i = 1, end
            while depth and i < n:
                if text.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif text.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
            line += text.count("\n", pos, i)
            end = i
        elif kind == "raw":  # raw string: r#"..."#
            close = '"' + m.group("hashes")
            i = text.find(close, end)
            i = n if i < 0 else i + len(close)
            line += text.count("\n", pos, i)
            end = i
        elif kind in ("str", "chr"):
            line += text.count("\n", pos, end)
        elif kind == "id":
            tok = m.group()
            toks.append((tok[2:] if tok.startswith("r#") else tok, line))
        else:  # "::" or a single punctuation character
            toks.append((m.group(), line))
        pos = end
    toks.append(("<eof>", line))
    return toks


def is_ident(tok):
    return tok[:1].isalpha() or tok[:1] == "_"


# --------------------------------------------------------------------------
# Per-file scan: `use` trees, inline paths, test items, inline modules and
# top-level item names (the last only to resolve glob re-exports).
# --------------------------------------------------------------------------

ITEM_KEYWORDS = {"fn", "struct", "enum", "trait", "type", "const", "static", "union"}


class Ref:
    """One reference to a path: `segs` as written, in inline module `inline`."""

    __slots__ = ("segs", "line", "inline", "name", "in_use", "top")

    def __init__(self, segs, line, inline, name=None, in_use=False, top=False):
        self.segs = segs  # e.g. ["super", "state", "load"]
        self.line = line
        self.inline = inline  # tuple of inline `mod x { }` names around it
        self.name = name  # name bound by a `use` leaf (alias, or "*")
        self.in_use = in_use
        self.top = top  # a `use` at file level (may be a re-export)


class FileScan:
    def __init__(self):
        self.refs = []
        self.items = set()  # names defined at file level
        self.test_mods = []  # (inline path, name) of `#[cfg(test)] mod name;`
        self.test_only = False  # `#![cfg(test)]`


def _match_cfg_test(toks, i):
    """If toks[i:] is `#[cfg(test)]` or `#![cfg(test)]`, return (end, inner)."""
    inner = toks[i + 1][0] == "!"
    j = i + 2 if inner else i + 1
    seq = [t for t, _ in toks[j : j + 6]]
    if seq == ["[", "cfg", "(", "test", ")", "]"]:
        return j + 6, inner
    return None


def _skip_attrs_and_vis(toks, j):
    """Skip `#[..]` attributes and a visibility (`pub`, `pub(..)`)."""
    while True:
        if toks[j][0] == "#" and toks[j + 1][0] == "[":
            j = _skip_group(toks, j + 1)
        elif toks[j][0] == "pub":
            j += 1
            if toks[j][0] == "(":
                j = _skip_group(toks, j)
        else:
            return j


_OPEN = {"(": ")", "[": "]", "{": "}"}
_CLOSE = {")", "]", "}"}


def _skip_group(toks, j):
    """toks[j] opens a bracket; return the index after its match."""
    depth = 0
    while toks[j][0] != "<eof>":
        t = toks[j][0]
        if t in _OPEN:
            depth += 1
        elif t in _CLOSE:
            depth -= 1
            if depth == 0:
                return j + 1
        j += 1
    return j


def _skip_item(toks, j):
    """Skip one item/statement/field starting at j (after its attributes).

    Ends after a `;` or `,` at depth 0, after a `{..}` block opened at depth 0,
    or before a closing bracket that belongs to the enclosing code.
    """
    while toks[j][0] != "<eof>":
        t = toks[j][0]
        if t in (";", ","):
            return j + 1
        if t in _CLOSE:
            return j
        if t in _OPEN:
            was_brace = t == "{"
            j = _skip_group(toks, j)
            if was_brace:
                return j
            continue
        j += 1
    return j


def _parse_use_tree(toks, i, prefix, out):
    """Parse one use tree at toks[i] under path `prefix`.

    Appends (segments, bound name, line) leaves to `out`; a glob leaf binds
    "*". Returns the index after the tree.
    """
    segs = list(prefix)
    line = toks[i][1]
    if toks[i][0] == "::":  # `use ::name` -- always an external crate
        segs.append("::")
        i += 1
    while True:
        t, line = toks[i]
        if t == "{":
            i += 1
            while toks[i][0] not in ("}", ";", "<eof>"):
                j = _parse_use_tree(toks, i, segs, out)
                if j == i:  # unexpected token: give up on this group
                    return i
                i = j
                if toks[i][0] == ",":
                    i += 1
            return i + 1 if toks[i][0] == "}" else i
        if t == "*":
            out.append((segs, "*", line))
            return i + 1
        if not is_ident(t):
            return i
        i += 1
        if t == "self" and segs and toks[i][0] != "::":  # `{self, ..}`
            name = segs[-1]
        else:
            segs.append(t)
            if toks[i][0] == "::":
                i += 1
                continue
            name = t
        if toks[i][0] == "as" and is_ident(toks[i + 1][0]):
            name = toks[i + 1][0]
            i += 2
        out.append((segs, name, line))
        return i


def scan_file(text):
    toks = tokenize(text)
    fs = FileScan()
    # Brace stack: the name of an inline `mod x {`, or None for other blocks.
    stack = []
    pending_mod = None  # name of `mod x` waiting for its `{`
    n = len(toks) - 1
    i = 0
    while i < n:
        t, line = toks[i]

        if t == "#":
            cfg = _match_cfg_test(toks, i)
            if cfg:
                end, inner = cfg
                if inner:  # `#![cfg(test)]`: the rest of this module is tests
                    if not stack:
                        fs.test_only = True
                        return fs
                    i = end
                    continue
                j = _skip_attrs_and_vis(toks, end)
                if (toks[j][0] == "mod" and is_ident(toks[j + 1][0])
                        and toks[j + 2][0] == ";"):
                    fs.test_mods.append((_inline(stack), toks[j + 1][0]))
                i = _skip_item(toks, j)
                continue

        elif t == "use" and (i == 0 or toks[i - 1][0] != "::"):
            leaves = []
            j = _parse_use_tree(toks, i + 1, [], leaves)
            inline = _inline(stack)
            top = not stack  # file level: may be a re-export
            for segs, name, lline in leaves:
                fs.refs.append(Ref(segs, lline, inline, name, True, top))
            while toks[j][0] not in (";", "<eof>"):  # tolerate odd syntax
                j += 1
            i = j + 1
            continue

        elif t in ("crate", "super", "self") and toks[i + 1][0] == "::":
            prev = toks[i - 1][0] if i else ""
            if prev not in ("::", "$", "in"):  # not a tail, `$crate`, `pub(in ..)`
                segs = [t]
                j = i + 1
                while toks[j][0] == "::" and is_ident(toks[j + 1][0]):
                    segs.append(toks[j + 1][0])
                    j += 2
                fs.refs.append(Ref(segs, line, _inline(stack)))
                i = j
                continue

        elif t == "mod" and is_ident(toks[i + 1][0]):
            if toks[i + 2][0] == "{":
                pending_mod = toks[i + 1][0]
            i += 2
            continue

        elif t in ITEM_KEYWORDS and not stack and is_ident(toks[i + 1][0]):
            fs.items.add(toks[i + 1][0])
        elif t == "macro_rules" and not stack and toks[i + 1][0] == "!":
            fs.items.add(toks[i + 2][0])

        elif t == "{":
            stack.append(pending_mod)
            pending_mod = None
        elif t == "}":
            if stack:
                stack.pop()
        i += 1
    return fs


def _inline(stack):
    return tuple(s for s in stack if s is not None)


# --------------------------------------------------------------------------
# Crates: module tree from files, re-exports, and path resolution.
# --------------------------------------------------------------------------


def module_of(rel):
    """Module path (tuple) of a file path relative to src/, or None."""
    parts = rel[:-3].split("/")  # drop ".rs"
    if len(parts) == 1 and parts[0] in ("lib", "main"):
        return ()
    if parts[-1] == "mod":
        parts = parts[:-1]
    return tuple(parts)


class Crate:
    def __init__(self, name, src, display_src):
        self.name = name
        self.src = src
        self.display_src = display_src  # src dir as printed, e.g. crates/x/src
        self.files = {}  # module path -> relative file name
        self.scans = {}  # module path -> FileScan
        self.reexports = defaultdict(dict)  # module -> name -> absolute path
        self.globs = defaultdict(list)  # module -> absolute paths of `use x::*`

    def load(self):
        for dirpath, dirnames, filenames in os.walk(self.src):
            rel_dir = os.path.relpath(dirpath, self.src).replace(os.sep, "/")
            if rel_dir == ".":
                rel_dir = ""
                # Separate binary targets are not part of this module tree.
                dirnames[:] = [d for d in dirnames if d != "bin"]
            dirnames.sort()
            for fn in sorted(filenames):
                if not fn.endswith(".rs"):
                    continue
                rel = f"{rel_dir}/{fn}" if rel_dir else fn
                mod = module_of(rel)
                if mod in self.files:  # both a.rs and a/mod.rs: keep the first
                    continue
                self.files[mod] = rel
                with open(os.path.join(self.src, rel), encoding="utf-8",
                          errors="replace") as f:
                    self.scans[mod] = scan_file(f.read())

        # Drop modules that exist only under test.
        test_roots = set()
        for mod, fs in self.scans.items():
            if fs.test_only:
                test_roots.add(mod)
            for inline, name in fs.test_mods:
                test_roots.add(mod + inline + (name,))
        for mod in list(self.files):
            if any(mod[: len(r)] == r for r in test_roots):
                del self.files[mod]
                del self.scans[mod]
        self.modules = set(self.files)

        # Re-exports: a file-level `use` in module M whose target lies inside
        # M's own subtree (`pub use child::Item`), so `M::Item` means
        # `M::child::Item`.
        for mod, fs in self.scans.items():
            for ref in fs.refs:
                if not ref.top:
                    continue
                target = self.absolute(mod, (), ref.segs)
                if target is None or len(target) <= len(mod):
                    continue
                if target[: len(mod)] != mod:
                    continue
                if ref.name == "*":
                    self.globs[mod].append(target)
                elif target[len(mod):] != (ref.name,):  # not `use self::X`
                    self.reexports[mod][ref.name] = target

    def absolute(self, mod, inline, segs):
        """The absolute path (tuple) that `segs`, written in module `mod`
        (inside inline modules `inline`), names; None if it leaves the crate
        or cannot be told."""
        if not segs:
            return None
        first = segs[0]
        if first == "crate":
            return tuple(segs[1:])
        if first in ("self", "super"):
            base = list(mod + inline)
            rest = list(segs[1:]) if first == "self" else list(segs)
            while rest and rest[0] == "super":
                if not base:
                    return None
                base.pop()
                rest.pop(0)
            return tuple(base) + tuple(rest)
        # A bare path names a child module only from a file module (2018
        # uniform paths); otherwise it is an extern crate, a prelude name, or
        # a name imported by an earlier `use` (which carries the edge).
        if not inline and (mod + (first,)) in self.modules:
            return tuple(mod) + tuple(segs)
        return None

    def resolve(self, path):
        """The deepest module along an absolute path, following re-exports."""
        segs = list(path)
        cur = ()
        i = hops = 0
        while i < len(segs):
            s = segs[i]
            nxt = cur + (s,)
            if nxt in self.modules:
                cur, i = nxt, i + 1
                continue
            if hops < 16:
                target = self.reexports.get(cur, {}).get(s)
                if target is None:
                    for g in self.globs.get(cur, ()):
                        gm = self.resolve(g)
                        if gm != cur and (
                            s in self.scans[gm].items
                            or s in self.reexports.get(gm, {})
                            or gm + (s,) in self.modules
                        ):
                            target = tuple(g) + (s,)
                            break
                if target is not None:
                    segs = list(target) + segs[i + 1:]
                    cur, i, hops = (), 0, hops + 1
                    continue
            break
        return cur


def show_mod(mod):
    return "crate" if not mod else "crate::" + "::".join(mod)


# --------------------------------------------------------------------------
# The checks.
# --------------------------------------------------------------------------

PEERS_CRATE = "kadet-server"
PEERS = (("cluster", "local"), ("local", "cluster"))


def check_crate(crate, peer_problems, loops):
    # edges[parent][(child_a, child_b)] = (file, line, path text)
    edges = defaultdict(dict)
    for mod in sorted(crate.scans):
        fs = crate.scans[mod]
        rel = f"{crate.display_src}/{crate.files[mod]}"
        for ref in sorted(fs.refs, key=lambda r: r.line):
            written = "::".join(ref.segs)
            path = crate.absolute(mod, ref.inline, ref.segs)
            if path is None:
                continue
            target = crate.resolve(path)

            if crate.name == PEERS_CRATE and mod:
                for here, other in PEERS:
                    if mod[0] != here:
                        continue
                    if path[:1] == (other,):
                        peer_problems.append(
                            f"{rel}:{ref.line}: `{here}` refers to `{other}`: {written}")
                    elif target[:1] == (other,):
                        peer_problems.append(
                            f"{rel}:{ref.line}: `{here}` refers to `{other}`: {written}"
                            f" (re-exported from {show_mod(target)})")

            if target == mod:
                continue
            k = 0
            while k < min(len(mod), len(target)) and mod[k] == target[k]:
                k += 1
            if k == len(mod) or k == len(target):  # ancestor <-> descendant
                continue
            parent = mod[:k]
            key = (mod[k], target[k])
            if key not in edges[parent]:
                edges[parent][key] = (rel, ref.line, written)

    for parent in sorted(edges):
        pe = edges[parent]
        graph = defaultdict(set)
        for a, b in pe:
            graph[a].add(b)
        for comp in strongly_connected(graph):
            if len(comp) < 2:
                continue
            members = sorted(comp)
            lines = [
                f"{crate.name}: import loop among the children of "
                f"{show_mod(parent)}: {', '.join(members)}"
            ]
            for (a, b), (rel, line, written) in sorted(pe.items()):
                if a in comp and b in comp:
                    lines.append(f"    {a} -> {b}: {rel}:{line} ({written})")
            loops.append("\n".join(lines))


def strongly_connected(graph):
    """Tarjan's algorithm, iterative; yields components as sets."""
    nodes = sorted(set(graph) | {b for bs in graph.values() for b in bs})
    index, low, on_stack, stack = {}, {}, set(), []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                up = work[-1][0]
                low[up] = min(low[up], low[node])
            if low[node] == index[node]:
                comp = set()
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.add(w)
                    if w == node:
                        break
                yield comp


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", default=".", help="repository root (default: .)")
    args = ap.parse_args(argv)

    crates_dir = os.path.join(args.root, "crates")
    if not os.path.isdir(crates_dir):
        print(f"check-modules: no crates/ directory under {args.root}", file=sys.stderr)
        return 2

    crates = []
    for name in sorted(os.listdir(crates_dir)):
        src = os.path.join(crates_dir, name, "src")
        if os.path.isdir(src):
            crate = Crate(name, src, f"crates/{name}/src")
            crate.load()
            crates.append(crate)

    peer_problems, loops = [], []
    for crate in crates:
        check_crate(crate, peer_problems, loops)

    n_mods = sum(len(c.modules) for c in crates)
    if not peer_problems and not loops:
        print(f"modules: {len(crates)} crates, {n_mods} modules, no loops, peers kept")
        return 0

    if peer_problems:
        print(f"peers: {PEERS_CRATE}: `local` and `cluster` must not refer to each other:")
        for p in dict.fromkeys(peer_problems):
            print(f"  {p}")
    for loop in loops:
        print(loop)
    print(f"modules: {len(crates)} crates, {n_mods} modules, {len(loops)} loop(s), "
          f"{len(dict.fromkeys(peer_problems))} peer violation(s)")
    return 1


if __name__ == "__main__":
    sys.exit(main())
