// An ordinary Node.js Lambda handler (CommonJS, async), as a user writes it for Lambda's
// nodejs runtimes: tests/test_process_node.c runs it unchanged under aws-lambda-ric (npm)
// and under bootstrap.js. The event says what to do.
exports.handler = async (event, context) => {
  if (event.fail) {
    throw new TypeError(event.fail);
  }
  if (event.wait_ms) {
    await new Promise((resolve) => setTimeout(resolve, event.wait_ms));
  }
  return {
    echo: event,
    requestId: context.awsRequestId,
    remainingMs: context.getRemainingTimeInMillis(),
    functionName: context.functionName,
    arn: context.invokedFunctionArn,
    // in the runtime's PID namespace (2, say): the host maps it (host_pid_of, util.h)
    pid: process.pid,
  };
};
