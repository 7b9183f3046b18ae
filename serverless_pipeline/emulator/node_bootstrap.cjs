// One execution environment of a Node.js function in the rehearsal's Lambda emulator
// (node_runtime.py starts it). It loads the handler as Lambda's Node.js runtime does and answers
// one invocation per request line on stdin with one response line on the file descriptor given
// as its argument, so that whatever the function's code prints cannot mix with the answers.
//
// Between invocations it blocks reading stdin, which holds the event loop still: timers the code
// left behind wait for the next invocation, as they do in a frozen Lambda environment. While an
// invocation runs, nothing of the bootstrap keeps the loop alive, so Node's "beforeExit" tells
// when the code's work is done, as the Lambda runtime interface client reads it.
"use strict";

const fs = require("node:fs");
const path = require("node:path");
const { pathToFileURL } = require("node:url");

const RESPONSES = Number(process.argv[2]);
const TASK_ROOT = process.env.LAMBDA_TASK_ROOT;
const HANDLER = process.env._HANDLER;

// The emulator's clock runs ahead of the machine's; each request says where it stands.
const RealDate = Date;
let offset = 0;
const now = () => RealDate.now() + offset;
function EmulatedDate(...args) {
  if (!new.target) {
    return new RealDate(now()).toString();
  }
  return Reflect.construct(RealDate, args.length ? args : [now()], new.target);
}
Object.setPrototypeOf(EmulatedDate, RealDate);
EmulatedDate.prototype = RealDate.prototype;
EmulatedDate.now = now;
globalThis.Date = EmulatedDate;

// The runtime's own errors, named as Lambda names them (Runtime.HandlerNotFound, ...).
function runtimeError(name) {
  const type = class extends Error {};
  type.prototype.name = `Runtime.${name}`;
  return type;
}
const HandlerNotFound = runtimeError("HandlerNotFound");
const ImportModuleError = runtimeError("ImportModuleError");
const MalformedHandlerName = runtimeError("MalformedHandlerName");
const UserCodeSyntaxError = runtimeError("UserCodeSyntaxError");
const UnhandledPromiseRejection = runtimeError("UnhandledPromiseRejection");
const NodeJsExit = runtimeError("NodeJsExit");

function errorOf(error) {
  if (
    error instanceof Error ||
    (error && typeof error.name === "string" && typeof error.stack === "string")
  ) {
    return {
      errorType: error.name,
      errorMessage: String(error.message),
      trace: String(error.stack).split("\n"),
    };
  }
  return { errorType: typeof error, errorMessage: String(error), trace: [] };
}

function write(line) {
  const data = Buffer.from(`${line}\n`);
  for (let at = 0; at < data.length; ) {
    at += fs.writeSync(RESPONSES, data, at);
  }
}

// A .js file is an ES module when the nearest package.json above it, within the code, says so.
function typeModule(folder) {
  for (let at = folder; at.startsWith(TASK_ROOT); at = path.dirname(at)) {
    const file = path.join(at, "package.json");
    if (fs.existsSync(file)) {
      try {
        return JSON.parse(fs.readFileSync(file, "utf8")).type === "module";
      } catch {
        return false;
      }
    }
    if (at === TASK_ROOT) {
      break;
    }
  }
  return false;
}

async function loadModule(moduleRoot, name) {
  const file = path.resolve(TASK_ROOT, moduleRoot, name);
  const esm = typeModule(path.dirname(file));
  const exists = (extension) => fs.existsSync(file + extension);
  if (exists(".js")) {
    return esm ? import(pathToFileURL(`${file}.js`).href) : require(`${file}.js`);
  }
  if (exists(".mjs")) {
    return import(pathToFileURL(`${file}.mjs`).href);
  }
  if (exists(".cjs")) {
    return require(`${file}.cjs`);
  }
  return require(require.resolve(name, { paths: [TASK_ROOT, path.join(TASK_ROOT, moduleRoot)] }));
}

async function load() {
  if (HANDLER.includes("..")) {
    throw new MalformedHandlerName(
      `'${HANDLER}' is not a valid handler name. Use absolute paths when specifying root ` +
        "directories in handler names.",
    );
  }
  const base = path.basename(HANDLER);
  const dot = base.indexOf(".");
  if (dot < 1) {
    throw new MalformedHandlerName("Bad handler");
  }
  let module;
  try {
    module = await loadModule(HANDLER.slice(0, HANDLER.length - base.length), base.slice(0, dot));
  } catch (error) {
    if (error instanceof SyntaxError) {
      throw new UserCodeSyntaxError(error);
    }
    if (error && error.code === "MODULE_NOT_FOUND") {
      throw new ImportModuleError(error);
    }
    throw error;
  }
  const handler = base
    .slice(dot + 1)
    .split(".")
    .reduce((found, key) => found && found[key], module);
  if (!handler) {
    throw new HandlerNotFound(`${HANDLER} is undefined or not exported`);
  }
  if (typeof handler !== "function") {
    throw new HandlerNotFound(`${HANDLER} is not a function`);
  }
  return handler;
}

let handlerLoaded = null;
// The running invocation's way to answer, and what answers it once the event loop is empty.
let answer = null;
let whenEmpty = null;

let pending = Buffer.alloc(0);
function nextRequest() {
  for (;;) {
    const newline = pending.indexOf(10);
    if (newline >= 0) {
      const line = pending.subarray(0, newline).toString("utf8");
      pending = pending.subarray(newline + 1);
      return JSON.parse(line);
    }
    const chunk = Buffer.alloc(1 << 16);
    const read = fs.readSync(0, chunk, 0, chunk.length, null);
    if (read === 0) {
      process.exit(0);
    }
    pending = Buffer.concat([pending, chunk.subarray(0, read)]);
  }
}

function next() {
  const request = nextRequest();
  offset = request.now - RealDate.now();
  invoke(request);
}

async function invoke(request) {
  let settled = false;
  answer = (error, result, ends = false) => {
    if (settled) {
      return;
    }
    settled = true;
    answer = whenEmpty = null;
    let line;
    if (error !== undefined && error !== null) {
      line = JSON.stringify({ error: errorOf(error), ends });
    } else {
      try {
        line = `{"result":${JSON.stringify(result === undefined ? null : result) ?? "null"}}`;
      } catch (unserializable) {
        line = JSON.stringify({ error: errorOf(unserializable) });
      }
    }
    write(line);
    setImmediate(next);
  };
  const respond = answer;
  let handler;
  try {
    handlerLoaded = handlerLoaded || load();
    handler = await handlerLoaded;
  } catch (error) {
    respond(error, null, true);
    return;
  }
  const deadline = now() + request.timeoutMs;
  const context = {
    ...request.context,
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(deadline - now(), 0),
    done: (error, result) => respond(error, result),
    succeed: (result) => respond(null, result),
    fail: (error) => respond(error ?? "handled"),
  };
  const callback = (error, result) => {
    if (error !== undefined && error !== null) {
      respond(error);
    } else if (context.callbackWaitsForEmptyEventLoop) {
      whenEmpty = () => respond(null, result);
    } else {
      respond(null, result);
    }
  };
  // A handler that neither settles a promise nor calls back: a plain function answers null once
  // its work is done; an async one never settled its promise.
  whenEmpty =
    handler.constructor.name === "AsyncFunction"
      ? () =>
          respond(
            new NodeJsExit(
              "The Lambda runtime client detected an unexpected Node.js exit code. This is " +
                "most commonly caused by a Promise that was never settled.",
            ),
          )
      : () => respond(null, null);
  try {
    const result = handler(request.event, context, callback);
    if (result && typeof result.then === "function") {
      result.then(
        (value) => respond(null, value),
        (error) => respond(error ?? "handled"),
      );
    }
  } catch (error) {
    respond(error);
  }
}

process.on("beforeExit", () => {
  if (whenEmpty) {
    whenEmpty();
  }
});
// An error nothing catches ends the environment, after answering the invocation it broke.
process.on("uncaughtException", (error) => {
  if (answer) {
    answer(error, null, true);
  }
  process.exit(129);
});
process.on("unhandledRejection", (reason) => {
  if (answer) {
    answer(new UnhandledPromiseRejection(reason), null, true);
  }
  process.exit(128);
});

next();
