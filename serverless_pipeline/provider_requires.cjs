"use strict";
/**
 * The Node.js half of provider_imports.py: load only the AWS provider modules a stack uses.
 *
 * jsii's kernel runs `require("@cdktf/provider-aws")`, whose lib/index.js requires all ~1,500
 * resource modules (267 MB of JavaScript) although the kernel then reaches each type through the
 * package's exports by name. Preloaded with `node --require`, this file answers that one require
 * with an exports object whose properties require their module on first access. The modules that
 * load are the installed files, unchanged, and nothing on disk is touched. Each resource module
 * requires only cdktf and its own files, so loading them in a different order changes nothing.
 *
 * Any index.js this file does not fully understand is loaded the usual way: slower, never wrong.
 */

const fs = require("fs");
const path = require("path");
const Module = require("module");

const PACKAGE = "@cdktf/provider-aws";

// Every line of the generated index.js is one of these; anything else means the format changed.
const IGNORED = [
  /^\s*$/,
  /^"use strict";$/,
  /^\s*(\/\*\*|\*|\*\/|\/\/).*$/,
  /^Object\.defineProperty\(exports, "__esModule", \{ value: true \}\);$/,
  /^exports\.[A-Za-z_$][\w$]*( = exports\.[A-Za-z_$][\w$]*)* = void 0;$/,
];
const EXPORT = /^exports\.([A-Za-z_$][\w$]*) = require\("(\.\/[\w.-]+)"\);$/;

/**
 * The [name, relative path] pairs of an index.js made only of `exports.x = require("./y")`
 * lines (and the lines generated around them), or null for any other source.
 */
function lazyExports(source) {
  const exportsFound = [];
  for (const line of source.split(/\r?\n/)) {
    const match = EXPORT.exec(line);
    if (match) {
      exportsFound.push([match[1], match[2]]);
    } else if (!IGNORED.some((pattern) => pattern.test(line))) {
      return null;
    }
  }
  return exportsFound.length > 0 ? exportsFound : null;
}

/** Whether filename is the provider package's lib/index.js. */
function isProviderIndex(filename) {
  if (path.basename(filename) !== "index.js" || path.basename(path.dirname(filename)) !== "lib") {
    return false;
  }
  try {
    const manifest = path.join(path.dirname(filename), "..", "package.json");
    return JSON.parse(fs.readFileSync(manifest, "utf8")).name === PACKAGE;
  } catch {
    return false;
  }
}

/** Define each export as a getter that requires its module once, then holds the value. */
function defineLazily(module, pairs) {
  Object.defineProperty(module.exports, "__esModule", { value: true });
  for (const [name, relative] of pairs) {
    Object.defineProperty(module.exports, name, {
      configurable: true,
      enumerable: true,
      get() {
        const value = module.require(relative);
        Object.defineProperty(module.exports, name, {
          configurable: true,
          enumerable: true,
          value,
          writable: true,
        });
        return value;
      },
    });
  }
}

const loadJavaScript = Module._extensions[".js"];
Module._extensions[".js"] = function loadProviderIndexLazily(module, filename) {
  if (isProviderIndex(filename)) {
    const pairs = lazyExports(fs.readFileSync(filename, "utf8"));
    if (pairs !== null) {
      defineLazily(module, pairs);
      return;
    }
  }
  loadJavaScript.call(this, module, filename);
};

module.exports = { lazyExports };
