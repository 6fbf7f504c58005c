// lambda_client_context.js - the AWS SDK for JavaScript v3 (@aws-sdk/client-lambda, as
// installed by `npm ci` here), unchanged but for its endpoint, against `faas serve`:
// Invoke with a ClientContext, GetFunction and GetFunctionConfiguration.
//
//   node lambda_client_context.js URL FUNCTION
//
// Prints one JSON object with what each call answered (tests/gateway/test_gateway.py
// checks it).
'use strict';

const {
    LambdaClient, InvokeCommand, GetFunctionCommand, GetFunctionConfigurationCommand,
} = require('@aws-sdk/client-lambda');

const url = process.argv[2];
const fn = process.argv[3];

(async () => {
    const lam = new LambdaClient({
        endpoint: url, region: 'us-east-1', maxAttempts: 1,
        credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    });
    const out = {};
    const sent = { custom: { from: 'js' }, env: { platform: 'node' } };
    const r = await lam.send(new InvokeCommand({
        FunctionName: fn, Payload: Buffer.from('{}'),
        ClientContext: Buffer.from(JSON.stringify(sent)).toString('base64'),
    }));
    out.seen = JSON.parse(Buffer.from(r.Payload).toString());
    try {
        await lam.send(new InvokeCommand({ FunctionName: fn, ClientContext: 'bm90IGpzb24=' }));
        out.bad = 'ok';
    } catch (e) {
        out.bad = e.name;
    }
    const g = await lam.send(new GetFunctionCommand({ FunctionName: fn }));
    const c = await lam.send(new GetFunctionConfigurationCommand({ FunctionName: fn }));
    const pick = (x) => ({
        Runtime: x.Runtime, Handler: x.Handler, Role: x.Role, CodeSha256: x.CodeSha256,
        CodeSize: x.CodeSize, RevisionId: x.RevisionId, State: x.State,
        LastUpdateStatus: x.LastUpdateStatus, Architectures: x.Architectures,
        MemorySize: x.MemorySize, Timeout: x.Timeout, Version: x.Version,
        FunctionArn: x.FunctionArn,
    });
    out.get_function = pick(g.Configuration);
    out.configuration = pick(c);
    process.stdout.write(JSON.stringify(out) + '\n');
})().catch((e) => {
    process.stderr.write(String(e && e.stack || e) + '\n');
    process.exit(1);
});
