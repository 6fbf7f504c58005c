// bootstrap.js - a minimal Runtime API loop for Node.js using only node's http: the
// stand-in tests/test_process_node.c uses when npm's aws-lambda-ric cannot run here (its
// skip reason says why). It does what the RIC does for a handler: load
// LAMBDA_TASK_ROOT/<module>.<export> from _HANDLER, GET next, build the context
// (awsRequestId, getRemainingTimeInMillis, functionName, invokedFunctionArn), await the
// handler, POST its result, or POST {errorType, errorMessage, trace} to .../error.
"use strict";
const http = require("http");
const path = require("path");

const [host, port] = process.env.AWS_LAMBDA_RUNTIME_API.split(":");
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const base = "/2018-06-01/runtime";

function request(method, url, body, headers) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port: Number(port), path: base + url, method, agent,
                               headers: headers || {} }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

function errorBody(err) {
  return JSON.stringify({
    errorType: (err && err.name) || "Error",
    errorMessage: (err && err.message) || String(err),
    trace: err && err.stack ? String(err.stack).split("\n") : [],
  });
}

async function main() {
  const [file, name] = process.env._HANDLER.split(".");
  let handler;
  try {
    handler = require(path.join(process.env.LAMBDA_TASK_ROOT, file))[name];
  } catch (err) {
    await request("POST", "/init/error", errorBody(err),
                  { "Lambda-Runtime-Function-Error-Type": "Runtime.ImportModuleError" });
    process.exit(1);
  }
  for (;;) {
    const next = await request("GET", "/invocation/next");
    const id = next.headers["lambda-runtime-aws-request-id"];
    const deadline = Number(next.headers["lambda-runtime-deadline-ms"]);
    const context = {
      awsRequestId: id,
      functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
      invokedFunctionArn: next.headers["lambda-runtime-invoked-function-arn"],
      getRemainingTimeInMillis: () => deadline - Date.now(),
    };
    try {
      const result = await handler(JSON.parse(next.body.toString() || "null"), context);
      await request("POST", `/invocation/${id}/response`, JSON.stringify(result ?? null));
    } catch (err) {
      await request("POST", `/invocation/${id}/error`, errorBody(err),
                    { "Lambda-Runtime-Function-Error-Type": "Unhandled" });
    }
  }
}

main();
