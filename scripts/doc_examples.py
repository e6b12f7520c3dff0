#!/usr/bin/env python3
"""Counts public item pages in the rendered docs and how many show a code example.

Usage: cargo doc --workspace --no-deps && python3 scripts/doc_examples.py [--missing]

An item page is an `{struct,enum,fn,trait,type,constant,macro,union}.*.html` page of the
`quartet_runtime` and `quartet_nursery` crates (the facade `quartet` re-exports these, so they are
counted once). A page "has an example" if its item's top-level docs render a Rust code block.
Methods are counted separately: a method "has an example" if its own doc block has one.
"""
import html, os, re, sys

ROOT = os.path.join(os.path.dirname(__file__), "..", "target", "doc")
CRATES = ["quartet_runtime", "quartet_nursery"]
KINDS = ("struct", "enum", "fn", "trait", "type", "constant", "macro", "union", "static")

def top_docblock(text):
    # The item's own docs: the first `docblock` after the main heading, before any impl section.
    m = re.search(r'<details class="toggle top-doc"[^>]*>(.*?)</details>', text, re.S)
    if m:
        return m.group(1)
    m = re.search(r'<div class="docblock">(.*?)</div>\s*(?:<h2|</section)', text, re.S)
    return m.group(1) if m else ""

def methods(text):
    # Inherent methods: `<section id="method.x" ...>` followed by an optional docblock.
    out = []
    inherent = text.split('id="trait-implementations"')[0]
    for m in re.finditer(r'<section id="(method|tymethod)\.([a-z0-9_]+)"(.*?)(?=<section id="|</details></div></details>|$)', inherent, re.S):
        out.append((m.group(2), "rust-example-rendered" in m.group(3) or 'class="rust' in m.group(3)))
    return out

def main():
    missing = "--missing" in sys.argv
    pages = with_ex = 0
    meths = meths_ex = 0
    lacking = []
    for crate in CRATES:
        for dirpath, _, files in os.walk(os.path.join(ROOT, crate)):
            for f in sorted(files):
                kind = f.split(".")[0]
                if kind not in KINDS or not f.endswith(".html"):
                    continue
                path = os.path.join(dirpath, f)
                text = open(path, encoding="utf-8").read()
                if 'http-equiv="refresh"' in text:  # a redirect page
                    continue
                pages += 1
                rel = os.path.relpath(path, ROOT)
                if 'class="rust' in top_docblock(text) or "example-wrap" in top_docblock(text):
                    with_ex += 1
                else:
                    lacking.append(rel)
                for name, ex in methods(text):
                    meths += 1
                    meths_ex += ex
                    if not ex:
                        lacking.append(f"{rel}#{name}")
    print(f"item pages: {pages}, with an example: {with_ex}")
    print(f"inherent methods: {meths}, with an example: {meths_ex}")
    if missing:
        for l in lacking:
            print("  missing:", l)

main()
