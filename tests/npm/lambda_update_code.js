// lambda_update_code.js - the AWS SDK for JavaScript v3 (@aws-sdk/client-lambda, as installed
// by `npm ci` here), unchanged but for its endpoint, against `faas serve`: UpdateFunctionCode
// from a local path (S3Bucket "file") and from ZipFile (the .so's bytes), with Publish, a
// failing INIT, and the modelled errors.
//
//   node lambda_update_code.js URL FUNCTION B.so A.so BAD.so
//
// Prints one JSON object with what each call answered (tests/gateway/test_update_code.py
// checks it).
'use strict';

const fs = require('fs');
const {
    LambdaClient, UpdateFunctionCodeCommand, InvokeCommand,
} = require('@aws-sdk/client-lambda');

const [url, fn, codeB, codeA, codeBad] = process.argv.slice(2);

(async () => {
    const lam = new LambdaClient({
        endpoint: url, region: 'us-east-1', maxAttempts: 1,
        credentials: { accessKeyId: process.env.FAAS_TEST_KEY || 'x', secretAccessKey: 'x' },
    });
    const out = {};
    const answer = async () => {
        const r = await lam.send(new InvokeCommand({ FunctionName: fn, Payload: '{}' }));
        return Buffer.from(r.Payload).toString();
    };
    const errorName = async (p) => {
        try {
            await p;
            return 'ok';
        } catch (e) {
            return e.name;
        }
    };
    const update = (input) => lam.send(new UpdateFunctionCodeCommand(
        Object.assign({ FunctionName: fn }, input)));

    let r = await update({ S3Bucket: 'file', S3Key: codeB });
    out.from_path = { status: r.LastUpdateStatus, version: r.Version, answer: await answer() };
    const revision = r.RevisionId;
    r = await update({ ZipFile: fs.readFileSync(codeA), Publish: true, RevisionId: revision });
    out.from_zip = { status: r.LastUpdateStatus, version: r.Version, answer: await answer() };
    r = await update({ S3Bucket: 'file', S3Key: codeBad });
    out.failed = { status: r.LastUpdateStatus, code: r.LastUpdateStatusReasonCode,
                   answer: await answer() };
    out.errors = {
        stale: await errorName(update({ S3Bucket: 'file', S3Key: codeB, RevisionId: revision })),
        unknown: await errorName(lam.send(new UpdateFunctionCodeCommand({
            FunctionName: 'nope', S3Bucket: 'file', S3Key: codeB }))),
        not_elf: await errorName(update({ ZipFile: Buffer.from('not a shared object') })),
    };
    lam.destroy();
    process.stdout.write(JSON.stringify(out) + '\n');
})().catch((e) => {
    process.stderr.write(String(e && e.stack || e) + '\n');
    process.exit(1);
});
