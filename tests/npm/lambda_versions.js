// lambda_versions.js - the AWS SDK for JavaScript v3 (@aws-sdk/client-lambda, as installed
// by `npm ci` here), unchanged but for its endpoint, against `faas serve`: versions and
// aliases. FUNCTION has version 1 published and its code changed since.
//
//   node lambda_versions.js URL FUNCTION
//
// Prints one JSON object with what each call answered (tests/gateway/test_versions.py
// checks it).
'use strict';

const {
    LambdaClient, PublishVersionCommand, ListVersionsByFunctionCommand, CreateAliasCommand,
    GetAliasCommand, UpdateAliasCommand, DeleteAliasCommand, ListAliasesCommand, InvokeCommand,
} = require('@aws-sdk/client-lambda');

const url = process.argv[2];
const fn = process.argv[3];

(async () => {
    const lam = new LambdaClient({
        endpoint: url, region: 'us-east-1', maxAttempts: 1,
        credentials: { accessKeyId: process.env.FAAS_TEST_KEY || 'x', secretAccessKey: 'x' },
    });
    const out = {};
    const invoke = async (qualifier) => {
        const r = await lam.send(new InvokeCommand({
            FunctionName: fn, Qualifier: qualifier, Payload: Buffer.from('{"js":true}'),
        }));
        if (Buffer.from(r.Payload).toString() !== '{"js":true}')
            throw new Error('unexpected payload ' + Buffer.from(r.Payload).toString());
        return r.ExecutedVersion;
    };
    const errorName = async (p) => {
        try {
            await p;
            return 'ok';
        } catch (e) {
            return e.name;
        }
    };

    out.published = (await lam.send(new PublishVersionCommand({ FunctionName: fn }))).Version;
    out.versions = (await lam.send(new ListVersionsByFunctionCommand({ FunctionName: fn })))
        .Versions.map((v) => v.Version);
    const c = await lam.send(new CreateAliasCommand({
        FunctionName: fn, Name: 'canary', FunctionVersion: '1',
        RoutingConfig: { AdditionalVersionWeights: { 2: 1.0 } },
    }));
    out.created = { status: c.$metadata.httpStatusCode, version: c.FunctionVersion,
                    weights: c.RoutingConfig.AdditionalVersionWeights };
    out.through_alias = [await invoke('canary'), await invoke('canary'),
                         await invoke('canary')];
    const u = await lam.send(new UpdateAliasCommand({
        FunctionName: fn, Name: 'canary', FunctionVersion: '2', RoutingConfig: {},
        RevisionId: c.RevisionId,
    }));
    out.updated_version = u.FunctionVersion;
    out.updated_routing = u.RoutingConfig || null;
    out.got = (await lam.send(new GetAliasCommand({ FunctionName: fn, Name: 'canary' })))
        .FunctionVersion;
    out.aliases = (await lam.send(new ListAliasesCommand({ FunctionName: fn })))
        .Aliases.map((a) => a.Name);
    out.qualified = await invoke('1');
    out.errors = {
        conflict: await errorName(lam.send(new CreateAliasCommand({
            FunctionName: fn, Name: 'canary', FunctionVersion: '1' }))),
        unknown_version: await errorName(lam.send(new CreateAliasCommand({
            FunctionName: fn, Name: 'other', FunctionVersion: '42' }))),
        mismatch: await errorName(lam.send(new InvokeCommand({
            FunctionName: fn + ':1', Qualifier: '2', Payload: Buffer.from('{}') }))),
    };
    await lam.send(new DeleteAliasCommand({ FunctionName: fn, Name: 'canary' }));
    out.after_delete = (await lam.send(new ListAliasesCommand({ FunctionName: fn })))
        .Aliases.map((a) => a.Name);
    lam.destroy();
    process.stdout.write(JSON.stringify(out) + '\n');
})().catch((e) => {
    process.stderr.write(String(e && e.stack || e) + '\n');
    process.exit(1);
});
