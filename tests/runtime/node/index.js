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
    pid: process.pid,
    // its id as the host sees it (/proc is the host's; the runtime may be in a PID
    // namespace of its own, where process.pid is 2)
    hostPid: Number(require('fs').readlinkSync('/proc/self')),
  };
};
