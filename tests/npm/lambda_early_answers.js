// lambda_early_answers.js - the AWS SDK for JavaScript v3 (@aws-sdk/client-lambda, as
// installed by `npm ci` here), unchanged but for its endpoint, against `faas serve`: calls
// the gateway answers from their headers alone (404, 413, 403) while the SDK is still
// writing a large body. It writes the whole body before it reads, so an answer sent with the
// body unread and the connection closed reaches it as EPIPE or ECONNRESET, and it retries.
//
//   node lambda_early_answers.js URL [TRIES]
//
// Prints one JSON object: for each case, how each call ended (the error's name, or "ok"),
// the SDK's own count of attempts, and the HTTP requests its handler actually sent.
'use strict';

const { LambdaClient, InvokeCommand } = require('@aws-sdk/client-lambda');
const { NodeHttpHandler } = require('@smithy/node-http-handler');

const url = process.argv[2];
const tries = Number(process.argv[3] || 20);
const SYNC_LIMIT = 6291456, ASYNC_LIMIT = 1048576;

// A JSON string payload of exactly n bytes.
function payload(n) {
    return Buffer.from('"' + 'a'.repeat(n - 2) + '"');
}

// The SDK's default request handler, counting the HTTP requests it sends (retries too).
class CountingHandler extends NodeHttpHandler {
    constructor() {
        super();
        this.sent = 0;
    }
    handle(request, options) {
        this.sent++;
        return super.handle(request, options);
    }
}

async function run(name, key, invoke) {
    const handler = new CountingHandler();
    const client = new LambdaClient({
        endpoint: url, region: 'us-east-1', requestHandler: handler,
        credentials: { accessKeyId: key, secretAccessKey: 'x' },
    });
    const outcomes = {};
    let attempts = 0;
    const messages = new Set();
    for (let i = 0; i < tries; i++) {
        let outcome;
        try {
            const r = await client.send(new InvokeCommand(invoke));
            outcome = 'ok';
            attempts += r.$metadata.attempts || 1;
        } catch (e) {
            outcome = e.name + (e.code ? ':' + e.code : '');
            attempts += (e.$metadata && e.$metadata.attempts) || 1;
            if (messages.size < 3)
                messages.add(String(e.message).slice(0, 160));
        }
        outcomes[outcome] = (outcomes[outcome] || 0) + 1;
    }
    client.destroy();
    return { name, calls: tries, outcomes, attempts, requests: handler.sent,
             messages: [...messages] };
}

(async () => {
    const results = [];
    results.push(await run('not_found_2mb', 'x',
        { FunctionName: 'nope', Payload: payload(2 * 1024 * 1024) }));
    results.push(await run('too_large_sync', 'x',
        { FunctionName: 'echo', Payload: payload(SYNC_LIMIT + 1) }));
    results.push(await run('too_large_event', 'x',
        { FunctionName: 'echo', InvocationType: 'Event', Payload: payload(ASYNC_LIMIT + 1) }));
    results.push(await run('ok_1mb', 'x',
        { FunctionName: 'echo', Payload: payload(1024 * 1024) }));
    process.stdout.write(JSON.stringify({ sdk: require('@aws-sdk/client-lambda/package.json').version,
                                          node: process.version, results }) + '\n');
})().catch((e) => {
    process.stderr.write(String(e && e.stack || e) + '\n');
    process.exit(1);
});
