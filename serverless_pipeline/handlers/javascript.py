"""The names a Node.js module exports, read from its text: validate never runs release code, and
the handler's runtime has no JavaScript parser.

The rule is one-sided on purpose. Every `export` keyword and every `exports` word of the module
must belong to a form whose names can be read (ES modules: `export const|let|var|function|
async function|class NAME`, `export default`, `export { a as NAME }` with or without `from`,
`export * as NAME from`; CommonJS: `exports.NAME =`, `module.exports.NAME =`,
`module.exports = { ... }`, `Object.defineProperty(exports, "NAME", ...)`,
`exports = module.exports`, and `this.NAME =`). One that does not (`module.exports = require(...)`,
`export * from`, a bundler's `module.exports = __toCommonJS(...)`, `exports[name] =`,
`module["exports"]`, or the word in a comment or a string) makes the exports unreadable, and
validate then accepts the module as it is. So a module is refused only when all of its exports
are in plain sight (a module with none at all included) and none is the handler's name; what
this reading gets wrong can only add names, never hide one:
- `module.exports = { ... }` counts every name from its opening brace to the end of the module
  (a literal's extent is not parsed: a regular expression or a template in it could mislead a
  scanner);
- `export let a = 1, b` counts every `, name` followed by `=`, `,`, `;` or a line's end after
  the declaration, up to the next `export`.
"""

from __future__ import annotations

import re

IDENTIFIER = r"[A-Za-z_$][\w$]*"
_NAME = rf"(?:{IDENTIFIER}|\"[^\"]*\"|'[^']*')"
_EXPORT = re.compile(r"(?<![\w$.])export(?![\w$])")
_EXPORTS = re.compile(r"(?<![\w$])exports(?![\w$])")

_DEFAULT = re.compile(r"export\s+default(?![\w$])")
_DECLARATION = re.compile(
    rf"export\s+(?:async\s+function\s*\*?|function\s*\*?|class\s)\s*({IDENTIFIER})"
)
_VARIABLE = re.compile(rf"export\s+(?:const|let|var)\s+({IDENTIFIER})")
_LIST = re.compile(r"export\s*\{([^{}]*)\}")
_NAMESPACE = re.compile(rf"export\s*\*\s*as\s+({_NAME})")
_SPECIFIER = re.compile(rf"\s*({_NAME})(?:\s+as\s+({_NAME}))?\s*")
_MORE_DECLARATORS = re.compile(rf",\s*({IDENTIFIER})\s*(?:=(?!=)|[,;\n])")

_PROPERTY = re.compile(
    rf"(?<![\w$])(?:module\s*\.\s*)?(?P<token>exports)\s*\.\s*({IDENTIFIER})\s*=(?!=)"
)
# At a CommonJS module's top level `this` is module.exports.
_THIS = re.compile(rf"(?<![\w$.])this\s*\.\s*({IDENTIFIER})\s*=(?!=)")
_OBJECT = re.compile(r"(?<![\w$.])module\s*\.\s*(?P<token>exports)\s*=(?!=)\s*\{")
_DEFINED = re.compile(
    r"(?<![\w$])Object\s*\.\s*defineProperty\s*\(\s*(?:module\s*\.\s*)?(?P<token>exports)"
    r"\s*,\s*([\"'])(.*?)\2"
)
# `exports = module.exports` only rebinds; its module.exports is read where it is assigned to.
_REBOUND = re.compile(
    r"(?<![\w$.])(?P<token>exports)\s*=(?!=)\s*module\s*\.\s*(?P<other>exports)(?![\w$])"
    r"(?P<assigned>\s*=(?!=))?"
)


def exported_names(source: str) -> set[str] | None:
    """Every name the module may export, or None when its exports cannot be read statically."""
    esm = _esm_names(source)
    cjs = _commonjs_names(source)
    if esm is None or cjs is None:
        return None
    return esm | cjs


def _esm_names(source: str) -> set[str] | None:
    names: set[str] = set()
    keywords = [match.start() for match in _EXPORT.finditer(source)]
    for index, start in enumerate(keywords):
        if _DEFAULT.match(source, start):
            names.add("default")
        elif found := _DECLARATION.match(source, start) or _NAMESPACE.match(source, start):
            names.add(found[1].strip("\"'"))
        elif found := _VARIABLE.match(source, start):
            end = keywords[index + 1] if index + 1 < len(keywords) else len(source)
            names.add(found[1])
            names.update(_MORE_DECLARATORS.findall(source, found.end(), end))
        elif found := _LIST.match(source, start):
            listed = _specifiers(found[1])
            if listed is None:
                return None
            names |= listed
        else:
            return None
    return names


def _specifiers(text: str) -> set[str] | None:
    """The exported names of `a as b, c`, or None for anything else."""
    names: set[str] = set()
    for specifier in text.split(","):
        if not specifier.strip():
            continue
        found = _SPECIFIER.fullmatch(specifier)
        if found is None:
            return None
        names.add((found[2] or found[1]).strip("\"'"))
    return names


def _commonjs_names(source: str) -> set[str] | None:
    names = set(_THIS.findall(source))
    read: set[int] = set()
    for match in _PROPERTY.finditer(source):
        names.add(match[2])
        read.add(match.start("token"))
    for match in _DEFINED.finditer(source):
        names.add(match[3])
        read.add(match.start("token"))
    for match in _OBJECT.finditer(source):
        names.update(re.findall(IDENTIFIER, source[match.end() :]))
        read.add(match.start("token"))
    for match in _REBOUND.finditer(source):
        read.add(match.start("token"))
        if match["assigned"] is None:
            read.add(match.start("other"))
    if any(match.start() not in read for match in _EXPORTS.finditer(source)):
        return None
    return names
