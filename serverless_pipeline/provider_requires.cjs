"use strict";
/**
 * The Node.js half of provider_imports.py: load only the AWS provider modules a stack uses.
 *
 * jsii's kernel runs `require("@cdktf/provider-aws")` (cdktf) or `require("@cdktn/provider-aws")`
 * (CDK Terrain), whose lib/index.js requires all ~1,500 or ~2,400 resource modules (hundreds of
 * MB of JavaScript) although the kernel then reaches each type through the package's exports by
 * name. Preloaded with `node --require`, this file answers that one require with an exports
 * object whose properties require their module on first access. The modules that load are the
 * installed files, unchanged, and nothing on disk is touched. Each resource module requires only
 * the engine's core and its own files, so loading them in a different order changes nothing.
 *
 * Any index.js this file does not fully understand is loaded the usual way: slower, never wrong.
 */

const fs = require("fs");
const path = require("path");
const Module = require("module");

const PACKAGES = new Set(["@cdktf/provider-aws", "@cdktn/provider-aws"]);

// Every line of the generated index.js is one of these; anything else means the format changed.
const IGNORED = [
  /^\s*$/,
  /^"use strict";$/,
  /^\s*(\/\*\*|\*|\*\/|\/\/).*$/,
  /^Object\.defineProperty\(exports, "__esModule", \{ value: true \}\);$/,
  /^exports\.[A-Za-z_$][\w$]*( = exports\.[A-Za-z_$][\w$]*)* = void 0;$/,
];
// `exports.x = require("./x")` (cdktf's index) or `exports.x = __importStar(require("./x/index"))`
// (CDK Terrain's, compiled from `export * as x from "./x/index"`).
const EXPORT =
  /^exports\.([A-Za-z_$][\w$]*) = (?:require\("(\.\/[\w./-]+)"\)|__importStar\(require\("(\.\/[\w./-]+)"\)\));$/;
// The helpers TypeScript emits before `__importStar` exports, exactly: with any other text the
// index is not understood (and loads the usual way).
const IMPORT_STAR_HELPERS = [
  "var __createBinding = (this && this.__createBinding) || (Object.create ? (function(o, m, k, k2) {",
  "    if (k2 === undefined) k2 = k;",
  "    var desc = Object.getOwnPropertyDescriptor(m, k);",
  "    if (!desc || (\"get\" in desc ? !m.__esModule : desc.writable || desc.configurable)) {",
  "      desc = { enumerable: true, get: function() { return m[k]; } };",
  "    }",
  "    Object.defineProperty(o, k2, desc);",
  "}) : (function(o, m, k, k2) {",
  "    if (k2 === undefined) k2 = k;",
  "    o[k2] = m[k];",
  "}));",
  "var __setModuleDefault = (this && this.__setModuleDefault) || (Object.create ? (function(o, v) {",
  "    Object.defineProperty(o, \"default\", { enumerable: true, value: v });",
  "}) : function(o, v) {",
  "    o[\"default\"] = v;",
  "});",
  "var __importStar = (this && this.__importStar) || (function () {",
  "    var ownKeys = function(o) {",
  "        ownKeys = Object.getOwnPropertyNames || function (o) {",
  "            var ar = [];",
  "            for (var k in o) if (Object.prototype.hasOwnProperty.call(o, k)) ar[ar.length] = k;",
  "            return ar;",
  "        };",
  "        return ownKeys(o);",
  "    };",
  "    return function (mod) {",
  "        if (mod && mod.__esModule) return mod;",
  "        var result = {};",
  "        if (mod != null) for (var k = ownKeys(mod), i = 0; i < k.length; i++) if (k[i] !== \"default\") __createBinding(result, mod, k[i]);",
  "        __setModuleDefault(result, mod);",
  "        return result;",
  "    };",
  "})();",
  "",
].join("\n");

/**
 * The [name, relative path, through __importStar] triples of an index.js made only of export
 * lines (and the lines generated around them), or null for any other source.
 */
function lazyExports(source) {
  const helpersAt = source.indexOf(IMPORT_STAR_HELPERS);
  const withHelpers = helpersAt >= 0;
  const rest = withHelpers
    ? source.slice(0, helpersAt) + source.slice(helpersAt + IMPORT_STAR_HELPERS.length)
    : source;
  const exportsFound = [];
  for (const line of rest.split(/\r?\n/)) {
    const match = EXPORT.exec(line);
    if (match && (match[2] !== undefined || withHelpers)) {
      const importStar = match[3] !== undefined;
      exportsFound.push([match[1], importStar ? match[3] : match[2], importStar]);
    } else if (match || !IGNORED.some((pattern) => pattern.test(line))) {
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
    return PACKAGES.has(JSON.parse(fs.readFileSync(manifest, "utf8")).name);
  } catch {
    return false;
  }
}

/** What TypeScript's __importStar returns: an ES module as it is, else a namespace of it. */
function asNamespace(loaded) {
  if (loaded && loaded.__esModule) {
    return loaded;
  }
  const namespace = {};
  if (loaded != null) {
    for (const key of Object.getOwnPropertyNames(loaded)) {
      if (key !== "default") {
        Object.defineProperty(namespace, key, { enumerable: true, get: () => loaded[key] });
      }
    }
  }
  Object.defineProperty(namespace, "default", { enumerable: true, value: loaded });
  return namespace;
}

/** Define each export as a getter that requires its module once, then holds the value. */
function defineLazily(module, triples) {
  Object.defineProperty(module.exports, "__esModule", { value: true });
  for (const [name, relative, importStar] of triples) {
    Object.defineProperty(module.exports, name, {
      configurable: true,
      enumerable: true,
      get() {
        const loaded = module.require(relative);
        const value = importStar ? asNamespace(loaded) : loaded;
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
    const triples = lazyExports(fs.readFileSync(filename, "utf8"));
    if (triples !== null) {
      defineLazily(module, triples);
      return;
    }
  }
  loadJavaScript.call(this, module, filename);
};

module.exports = { lazyExports, IMPORT_STAR_HELPERS };
